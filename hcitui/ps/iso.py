"""ISO operations: copy the ISO to a node in chunks, extract it to the staging folder, prove it."""

from __future__ import annotations

from pydantic import Field

from hcitui.core import model
from hcitui.ps.base import Operation, Params
from hcitui.ps.reads import STOP

# Raw bytes per chunk: the base64 text stays well under WinRM's default 500 KB envelope
# once pypsrp fragments it, and one chunk is one round trip.
CHUNK_BYTES = 256 * 1024


class ChunkParams(Params):
    path: str = Field(min_length=3, max_length=32767)
    offset: int = Field(ge=0)
    data: str = Field(min_length=1, description="base64 of the bytes to write at offset")


write_file_chunk = Operation(
    name="write_file_chunk",
    summary="Write one chunk of a file at an offset (copying the ISO from the management machine)",
    params=ChunkParams,
    result=model.PathInfo,
    mutates=True,
    timeout=120,
    script=rf"""
param([Parameter(Mandatory)][string]$Path, [Parameter(Mandatory)][long]$Offset, [Parameter(Mandatory)][string]$Data)
{STOP}
$bytes = [Convert]::FromBase64String($Data)
$folder = Split-Path -Path $Path -Parent
if ($folder -and -not (Test-Path -LiteralPath $folder)) {{ New-Item -ItemType Directory -Path $folder | Out-Null }}
$mode = if ($Offset -eq 0) {{ [System.IO.FileMode]::Create }} else {{ [System.IO.FileMode]::Open }}
$stream = [System.IO.File]::Open($Path, $mode, [System.IO.FileAccess]::Write, [System.IO.FileShare]::None)
try {{
    if ($stream.Length -ne $Offset) {{ throw "'$Path' is $($stream.Length) bytes long, not $($Offset): the copy must resume at its end." }}
    [void]$stream.Seek($Offset, [System.IO.SeekOrigin]::Begin)
    $stream.Write($bytes, 0, $bytes.Length)
    $length = $stream.Length
}} finally {{
    $stream.Dispose()
}}
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{ Path = $Path; Exists = $true; IsContainer = $false; Length = [int64]$length }})
""",
)


class StageParams(Params):
    iso_path: str = Field(min_length=3, max_length=32767)
    destination: str = Field(min_length=3, max_length=32767)


_STAGING_JSON = r"""
$files = @(Get-ChildItem -LiteralPath $Destination -Recurse -File -Force)
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{
    Path       = $Destination
    Exists     = $true
    HasSetup   = [bool](Test-Path -LiteralPath (Join-Path $Destination 'setup.exe') -PathType Leaf)
    FileCount  = $files.Count
    TotalBytes = [int64](($files | Measure-Object -Property Length -Sum).Sum)
})
"""

stage_iso = Operation(
    name="stage_iso",
    summary="Mount the ISO, copy its contents to the staging folder, dismount (Mount-DiskImage, Copy-Item)",
    params=StageParams,
    result=model.StagingInfo,
    mutates=True,
    timeout=3600,
    script=rf"""
param([Parameter(Mandatory)][string]$IsoPath, [Parameter(Mandatory)][string]$Destination)
{STOP}
if (-not (Test-Path -LiteralPath $IsoPath -PathType Leaf)) {{ throw "The ISO '$IsoPath' does not exist on this node." }}
$image = Mount-DiskImage -ImagePath $IsoPath -PassThru
try {{
    $letter = ($image | Get-Volume).DriveLetter
    if (-not $letter) {{ throw "The mounted ISO has no drive letter." }}
    # -Force on a folder creates missing parents and never empties an existing one.
    New-Item -ItemType Directory -Path $Destination -Force | Out-Null
    Copy-Item -Path "$($letter):\*" -Destination $Destination -Recurse -Force
}} finally {{
    Dismount-DiskImage -ImagePath $IsoPath | Out-Null
}}
{_STAGING_JSON}""",
)


class StagingPathParams(Params):
    path: str = Field(min_length=3, max_length=32767)


get_staging_info = Operation(
    name="get_staging_info",
    summary="Is setup.exe in the staging folder, and how many files and bytes are there",
    params=StagingPathParams,
    result=model.StagingInfo,
    mutates=False,
    timeout=300,
    script=rf"""
param([Parameter(Mandatory)][string]$Path)
{STOP}
if (-not (Test-Path -LiteralPath $Path -PathType Container)) {{
    ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{ Path = $Path; Exists = $false; HasSetup = $false; FileCount = 0; TotalBytes = 0 }})
    return
}}
$Destination = $Path
{_STAGING_JSON}""",
)

get_file_hash = Operation(
    name="get_file_hash",
    summary="A file's length and SHA256 on the node (Get-Item, Get-FileHash): the proof of a copied file",
    params=StagingPathParams,
    result=model.FileHash,
    mutates=False,
    timeout=600,
    script=rf"""
param([Parameter(Mandatory)][string]$Path)
{STOP}
$item = Get-Item -LiteralPath $Path -Force -ErrorAction Ignore
if (-not $item -or $item.PSIsContainer) {{
    ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{ Path = $Path; Exists = $false; Length = $null; Hash = $null }})
    return
}}
$hash = Get-FileHash -LiteralPath $Path -Algorithm SHA256
ConvertTo-Json -Compress -InputObject ([pscustomobject]@{{
    Path = $Path; Exists = $true; Length = [int64]$item.Length; Hash = [string]$hash.Hash
}})
""",
)

ISO_OPS = [write_file_chunk, stage_iso, get_staging_info, get_file_hash]
