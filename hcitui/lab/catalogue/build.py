"""Regenerate ``cmdlets.json``: the cmdlets our scripts call, as Microsoft's cmdlet reference documents them.

The facts come from two of Microsoft's documentation repositories, read as bare git mirrors (no
work tree is needed; every file is read with ``git show <commit>:<path>``):

- MicrosoftDocs/windows-powershell-docs, ``docset/winserver2022-ps/<Module>/<Cmdlet>.md``
  (FailoverClusters, Storage, StorageReplica, ClusterAwareUpdating, Hyper-V, ...);
- MicrosoftDocs/PowerShell-Docs, ``reference/5.1/<Module>/<Cmdlet>.md`` (Windows PowerShell 5.1,
  what the nodes run; the 7.x folders are never read).

Get the mirrors with the search tool's fetch (``github:MicrosoftDocs/windows-powershell-docs`` and
``github:MicrosoftDocs/PowerShell-Docs``; they land in /work/.mirror/<owner>+<name>/repo), or with
``git clone --bare https://github.com/MicrosoftDocs/<name>``. Then regenerate the file, or check the
committed one against the mirrors (a diff and exit status 1 when they differ):

    python -m hcitui.lab.catalogue.build --windows-docs GITDIR --ps-docs GITDIR [--out PATH]
    python -m hcitui.lab.catalogue.build --windows-docs GITDIR --ps-docs GITDIR --check

Pages are platyPS markdown. ``## SYNTAX`` has a fenced block per parameter set under ``### Set`` or
``### Set (Default)`` (no heading: one set, ``__AllParameterSets``); ``## PARAMETERS`` has
``### -Name`` headings, each with yaml blocks (Type, Parameter Sets, Aliases, Required, Position,
Accept pipeline input); ``## OUTPUTS`` has ``### TypeName`` headings. A parameter is in the sets
whose SYNTAX block names it, and in those its yaml gives it; a SYNTAX block showing it named overrides
a yaml Position; the yaml gives its type, aliases, whether it is mandatory (platyPS shows mandatory
switches as ``[-Switch]``) and its position. Irregular pages are reported as ``note:`` lines on
stderr. The output depends only on the two commits: the same mirrors give a byte-identical file.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WINDOWS_DOCS, WINDOWS_ROOT = "MicrosoftDocs/windows-powershell-docs", "docset/winserver2022-ps"
PS_DOCS, PS_ROOT = "MicrosoftDocs/PowerShell-Docs", "reference/5.1"
DEFAULT_OUT = Path(__file__).with_name("cmdlets.json")
ALL_SETS = "__AllParameterSets"

# Cmdlets catalogued whether or not a script calls them yet (the guides' next steps); every command a
# declared script or the CAU runner calls is added by scripts_commands().
CMDLETS = """
Add-CauClusterRole Add-Content Confirm-SecureBootUEFI Convert-Path ConvertFrom-Json ConvertTo-Json Copy-Item
Disable-CauClusterRole Dismount-DiskImage Enable-CauClusterRole Enable-PSRemoting ForEach-Object Format-List Get-Acl
Get-AzureStackHCI Get-BitLockerVolume Get-BpaResult Get-CauClusterRole Get-CauReport Get-CauRun Get-ChildItem
Get-CimAssociatedInstance Get-CimInstance Get-Cluster Get-ClusterGroup Get-ClusterNode Get-ClusterParameter
Get-ClusterResource Get-ClusterSharedVolume Get-ClusterSharedVolumeState Get-ComputerInfo Get-Content Get-Culture
Get-Date Get-Disk Get-FileHash Get-HotFix Get-Item Get-ItemProperty Get-Partition Get-PhysicalDisk Get-Process
Get-PSSessionConfiguration Get-ScheduledTask Get-ScheduledTaskInfo Get-Service Get-SRGroup Get-SRPartnership
Get-StorageJob Get-StoragePool Get-StorageSubSystem Get-Tpm Get-VirtualDisk Get-VM Get-VMHostSupportedVersion
Get-Volume Get-WindowsFeature Get-WindowsOptionalFeature Get-WinEvent Group-Object Install-WindowsFeature
Invoke-CauRun Invoke-CauScan Join-Path Measure-Object Mount-DiskImage Move-Item New-Item New-ItemProperty
New-ScheduledTaskAction New-ScheduledTaskPrincipal New-ScheduledTaskSettingsSet New-ScheduledTaskTrigger
New-SRPartnership Out-File Out-Null Out-String Register-ScheduledTask Remove-Item Remove-SRPartnership Rename-Item
Resolve-Path Resume-BitLocker Resume-ClusterNode Select-Object Select-String Set-Content Set-ItemProperty
Set-Service Set-WSManQuickConfig Sort-Object Split-Path Start-Cluster Start-Process Start-ScheduledTask Start-Sleep
Stop-CauRun Stop-Cluster Suspend-BitLocker Suspend-ClusterNode Test-CauSetup Test-Cluster Test-Path Test-WSMan
Unregister-ScheduledTask Update-ClusterFunctionalLevel Update-StoragePool Update-VMVersion Wait-Process Where-Object
Write-Error Write-Output Write-Verbose Write-Warning Get-Module Enable-WindowsOptionalFeature Add-WindowsPackage
Get-WindowsPackage Get-WinSystemLocale Get-WinUILanguageOverride Get-WinUserLanguageList Stop-ClusterResource
Start-ClusterResource Suspend-ClusterResource Resume-ClusterResource Set-VirtualDisk Connect-VirtualDisk
Disconnect-VirtualDisk Get-ClusterSharedVolume Restart-Computer Get-ClusterResource
""".split()


# Cmdlets with no reference page in either repo, and where they are shown in use instead.
ELSEWHERE = {
    "Get-AzureStackHCI": "MicrosoftDocs/azure-stack-docs@036cae417550ef5133f92de458e73228b5e48626:"
                         "azure-stack/hci/deploy/deployment-tool-validate.md (sample output; no parameters documented)",
}


def scripts_commands() -> set[str]:
    """Every command name the declared scripts and the CAU runner call (not functions they define,
    not native programs, not aliases a catalogued page already names)."""
    from hcitui.lab import psparse
    from hcitui.ps import OPERATIONS
    from hcitui.ps.cau import RUNNER

    names: set[str] = set()
    for source in [op.script for op in OPERATIONS.values()] + [RUNNER]:
        script = psparse.parse(source)
        for command in psparse.commands(script):
            name = command.name
            if name and "-" in name and not name.lower().endswith(".exe") and name.lower() not in script.functions:
                names.add(name)
    return names

COMMON = {"Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ErrorVariable",
          "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable", "ProgressAction"}
RISK = {"Confirm", "WhatIf"}  # not in "parameters": a page documenting either gives "should_process"
# A cmdlet with pages in two module folders of one repo: the module that ships it on a node
# (Microsoft.Windows.ServerManager.Migration is the Windows Server Migration Tools' copy).
PREFERRED_MODULE = {"Get-WindowsFeature": "ServerManager", "Install-WindowsFeature": "ServerManager"}
PS_MODULE = re.compile(r"^(Microsoft\.PowerShell\..*|CimCmdlets|Microsoft\.WSMan\.Management)$")

FENCE = re.compile(r"^\s*```")
SYNTAX_PARAM = re.compile(r"(?<![\w-])-([A-Za-z]\w*)")  # -Name in a syntax block (not the verb-noun's dash)
SYNTAX_POSITIONAL = re.compile(r"\[-(\w+)\]\s*<")  # [-Name] <Type>: positional in that set
# "### Path (Default) - FileSystem provider": 5.1's provider cmdlets show a set once per provider.
SET_HEADING = re.compile(r"^(?P<name>.+?)(?P<default>\s*\(Default\))?(?P<provider>\s+-\s+.*\bproviders?)?$", re.I)
# A 5.1 page saying one of its parameters came with PowerShell 6 or later (Get-ChildItem -FollowSymlink).
NEWER_THAN_51 = re.compile(r"\bintroduced in PowerShell (?:[6-9]|\d\d)(?:\.\d+)?")
NOTES: list[str] = []  # irregular pages met on the way; printed when the file is written


def note(message: str) -> None:
    NOTES.append(message)


@dataclass
class Repo:
    """A bare mirror, pinned to the commit its HEAD names when the build starts."""

    label: str
    gitdir: Path
    root: str
    commit: str = field(init=False)
    date: str = field(init=False)
    pages: dict[str, list[str]] = field(init=False)  # lower-case cmdlet name -> paths of its pages

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.gitdir), *args], check=True, capture_output=True,
                              text=True, encoding="utf-8").stdout

    def __post_init__(self) -> None:
        self.commit = self.git("rev-parse", "HEAD").strip()
        self.date = self.git("show", "-s", "--format=%cI", self.commit).strip()
        self.pages = {}
        for path in self.git("ls-tree", "-r", "--name-only", self.commit, "--", self.root).splitlines():
            parts = path[len(self.root) + 1:].split("/")
            if len(parts) == 2 and parts[1].lower().endswith(".md"):  # <Module>/<Cmdlet>.md only
                self.pages.setdefault(parts[1][:-3].lower(), []).append(path)

    def read(self, path: str) -> str:
        return self.git("show", f"{self.commit}:{path}").lstrip("\ufeff").replace("\r\n", "\n")


def sections(lines: list[str], marker: str) -> dict[str, list[str]]:
    """Split ``lines`` at headings starting with ``marker`` (outside code fences): heading -> body."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    fenced = False
    for line in lines:
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith(marker):
            current = out.setdefault(line[len(marker):].strip(), [])
            continue
        if current is not None:
            current.append(line)
    return out


def fenced_blocks(lines: list[str], language: str | None = None) -> list[list[str]]:
    """The contents of the code fences in ``lines`` (only those tagged ``language``, if given)."""
    blocks: list[list[str]] = []
    current: list[str] | None = None  # the open fence's lines
    keep = False
    for line in lines:
        if FENCE.match(line):
            if current is None:
                current, keep = [], language is None or line.strip()[3:].strip().lower() == language
                continue
            if keep:
                blocks.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def for_set(value: str, set_name: str) -> str:
    """A yaml value as it applies to one set: 'True (pathSet), False (nameSet)' is 'False' for nameSet."""
    for answer, names in re.findall(r"(\w+) \(([^)]*)\)", value):
        if set_name.lower() in (n.strip().lower() for n in names.split(",")):
            return answer
    return value.split(" (")[0].strip()


@dataclass
class Syntax:
    """What a page's ## SYNTAX says. A set shown once per provider ("### Path (Default) - FileSystem
    provider") is one set: every parameter any of its blocks names, those only some name being the
    providers' dynamic parameters (mandatory only on their provider, so not mandatory here)."""

    names: dict[str, set[str]] = field(default_factory=dict)  # set -> the parameters its blocks name
    positional: dict[str, set[str]] = field(default_factory=dict)  # set -> those shown `[-Name] <Type>`
    provider_only: dict[str, set[str]] = field(default_factory=dict)  # set -> those not in all its blocks
    default_set: str | None = None


def parse_syntax(name: str, body: list[str]) -> Syntax:
    syntax = Syntax()
    for heading, lines in (sections(body, "### ") or {ALL_SETS: body}).items():
        m = SET_HEADING.match(heading)
        assert m is not None, heading
        set_name = m["name"].strip()
        syntax.default_set = set_name if m["default"] else syntax.default_set
        if m["provider"] and set_name not in syntax.names:
            note(f"{name}: syntax set '{set_name}' is shown per provider; its blocks are merged")
        for block in map(" ".join, fenced_blocks(lines)):
            found = set(SYNTAX_PARAM.findall(block))
            everywhere = syntax.names.get(set_name, found) - syntax.provider_only.get(set_name, set())
            syntax.names.setdefault(set_name, set()).update(found)
            syntax.provider_only[set_name] = syntax.names[set_name] - (everywhere & found)
            syntax.positional.setdefault(set_name, set()).update(SYNTAX_POSITIONAL.findall(block))
    if syntax.default_set is None and len(syntax.names) == 1:
        syntax.default_set = next(iter(syntax.names))
    elif syntax.default_set is None:
        note(f"{name}: no set is marked (Default); default_set is null")
    return syntax


def parse_parameters(body: list[str]) -> dict[str, tuple[list[dict[str, str]], str]]:
    """## PARAMETERS -> name -> (its yaml blocks as "Key: value" dicts, its section's text)."""
    out: dict[str, tuple[list[dict[str, str]], str]] = {}
    for heading, lines in sections(body, "### ").items():
        if heading.startswith("-"):
            blocks = [{k.strip(): v.strip() for k, _, v in (line.partition(":") for line in block if ":" in line)}
                      for block in fenced_blocks(lines, "yaml")]
            out[heading[1:]] = (blocks, "\n".join(lines))
    return out


ASKS = re.compile(r"without (?:asking for (?:user )?confirmation|prompting (?:you )?for confirmation|prompting)"
                  r"|ask for confirmation", re.I)


def front_lines(lines: list[str]) -> list[str]:
    """The YAML front matter's lines (between the first two ``---``)."""
    return lines[1:lines.index("---", 1)]


def parse_page(name: str, text: str, ps51: bool) -> dict[str, Any]:
    """One reference page -> its catalogue entry (without "source")."""
    lines = text.split("\n")
    front = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:lines.index("---", 1)])}
    top = sections(lines, "## ")
    parsed = parse_syntax(name, top["SYNTAX"])
    syntax, positional, default_set = parsed.names, parsed.positional, parsed.default_set
    canonical = {s.lower(): s for s in syntax}  # a yaml block may spell a set in another case (Get-HotFix)
    documented = parse_parameters(top["PARAMETERS"])
    parameters: dict[str, Any] = {}
    sets: dict[str, dict[str, Any]] = {s: {} for s in syntax}
    for pname, (blocks, prose) in sorted(documented.items()):
        if pname in COMMON | RISK:
            continue
        if not blocks:
            note(f"{name}: -{pname} has no yaml block; left out")
            continue
        if ps51 and (later := NEWER_THAN_51.search(prose)):
            note(f"{name}: -{pname} left out: its 5.1 page says it was '{later[0]}'")
            continue
        first = blocks[0]
        if any((b.get("Type"), b.get("Aliases")) != (first.get("Type"), first.get("Aliases")) for b in blocks):
            note(f"{name}: -{pname}'s yaml blocks disagree on Type or Aliases; the first is used")
        ptype = first.get("Type", "")
        switch = ptype.split(".")[-1] == "SwitchParameter"
        parameters[pname] = {
            "type": ptype, "switch": switch,
            "aliases": [a.strip() for a in first.get("Aliases", "").split(",") if a.strip() not in ("", "None")],
            "pipeline": any(b.get("Accept pipeline input", "").startswith("True") for b in blocks),
        }
        # The yaml block that speaks for each set: the first naming it, or naming "(All)".
        speaks: dict[str, dict[str, str]] = {}
        for block in blocks:
            listed = [s.strip() for s in block.get("Parameter Sets", "(All)").split(",")]
            for s in listed:
                if s != "(All)" and canonical.get(s.lower()) != s:
                    note(f"{name}: -{pname}'s yaml names set '{s}'; the syntax has {canonical.get(s.lower())!r}")
            for s in syntax if "(All)" in listed else [canonical[s.lower()] for s in listed if s.lower() in canonical]:
                speaks.setdefault(s, block)
        # Members of a set: those its syntax names, and those a yaml block gives it. The second is
        # needed once, on Get-ChildItem's 5.1 page: its LiteralItems block leaves out the provider
        # parameters (-File, ...) that the yaml gives to (All); `Get-ChildItem -LiteralPath $p -File` runs.
        for s in sorted(syntax):
            block = speaks.get(s)
            if block is None and pname not in syntax[s]:
                continue
            if pname not in syntax[s]:
                note(f"{name}: -{pname} is in set '{s}' by its yaml, not by that set's syntax block")
            elif block is None:
                note(f"{name}: -{pname} is in set '{s}' by its syntax block; no yaml block names that set")
            block = block or first
            pos = for_set(block.get("Position", "Named"), s)
            if pos.lower() != "named" and pname in syntax[s] - positional[s] and not switch:
                note(f"{name}: -{pname} is named in set '{s}' by its syntax block, not at its yaml's Position {pos}")
                pos = "Named"
            mandatory = for_set(block.get("Required", ""), s).lower() == "true"
            if mandatory and pname in parsed.provider_only[s]:
                note(f"{name}: -{pname} is mandatory only in some provider's '{s}' block; not mandatory here")
                mandatory = False
            sets[s][pname] = {"mandatory": mandatory, "position": None if pos.lower() == "named" else int(pos)}
    for s, members in sorted(syntax.items()):
        for pname in sorted(members - set(documented) - COMMON - RISK):
            note(f"{name}: syntax set '{s}' names -{pname}, which has no ### -{pname} section")
        positions = [m["position"] for m in sets[s].values() if m["position"] is not None]
        if len(positions) != len(set(positions)):
            note(f"{name}: set '{s}' has two parameters at one position (as its yaml says)")

    risk = RISK & set(documented)
    if risk != RISK & set().union(*syntax.values()) or risk not in (set(), RISK):
        note(f"{name}: PARAMETERS documents {sorted(risk)} of -Confirm/-WhatIf, the syntax "
             f"{sorted(RISK & set().union(*syntax.values()))}")
    entry: dict[str, Any] = {
        "documented": True, "module": front.get("Module Name"), "should_process": bool(risk),
        "confirm_impact": None, "default_set": default_set, "parameters": parameters, "parameter_sets": sets,
        "outputs": [h for h in dict.fromkeys(sections(top.get("OUTPUTS", []), "### ")) if h != "None"],
    }
    # Does the cmdlet ask before it acts? Its own -Force text says so ("Forces the command to run without
    # asking for user confirmation", "Runs the cmdlet without prompting for confirmation"). Over a remote
    # pipeline nobody can answer: the front door requires what the page says suppresses the question, or
    # -Confirm:$false where the cmdlet supports ShouldProcess.
    force_text = documented.get("Force", ([], ""))[1]
    if said := ASKS.search(force_text):
        sentence = next(line.strip() for line in force_text.split("\n") if said[0] in line)
        entry["prompts"] = {"suppressed_by": ["Force", "Confirm"] if risk else ["Force"], "quote": sentence}
    aliases = [line.strip()[2:].strip() for line in front_lines(lines) if line.startswith("  - ")]
    if aliases:
        entry["aliases"] = aliases  # the page's front matter (5.1 pages list the built-in aliases)
    # A stated ConfirmImpact value only (a link to about_Functions_CmdletBindingAttribute#confirmimpact is not one).
    for sentence in re.findall(r"[^.\n]*\bConfirmImpact\b[^.\n]*\.?", text, re.I):
        if value := re.search(r"ConfirmImpact\W+(?:is\W+|=\W*)?(High|Medium|Low|None)\b", sentence, re.I):
            entry["confirm_impact"] = value[1].capitalize()
            entry["confirm_impact_source"] = sentence.strip()
    return entry


def build(windows: Repo, ps: Repo) -> dict[str, Any]:
    cmdlets: dict[str, Any] = {}
    known = {c.lower() for c in CMDLETS}
    for name in CMDLETS + sorted(n for n in scripts_commands() if n.lower() not in known):
        found = [(r, p) for r in (ps, windows) for p in r.pages.get(name.lower(), [])]
        if name in PREFERRED_MODULE:
            found = [(r, p) for r, p in found if p.split("/")[-2] == PREFERRED_MODULE[name]]
        if len({r.label for r, _ in found}) > 1:  # in both repos: 5.1 for PowerShell's own modules
            found = [(r, p) for r, p in found if (r is ps) == bool(PS_MODULE.match(p.split("/")[-2]))]
        if len(found) > 1:
            raise SystemExit(f"{name} has several pages, choose one in PREFERRED_MODULE: {[p for _, p in found]}")
        if not found and name.lower() not in known:
            # A script calls something no reference page documents: left out, so the front door refuses
            # it as a node would refuse a command it does not have (or a typo of one).
            note(f"{name}: called by a script, but no page documents it; not catalogued")
            continue
        if not found:
            note(f"{name}: no page under {WINDOWS_DOCS}:{WINDOWS_ROOT} or {PS_DOCS}:{PS_ROOT}")
            cmdlets[name] = {"documented": False, "module": None, "source": ELSEWHERE.get(name),
                             "should_process": False,
                             "confirm_impact": None, "default_set": None, "parameters": {},
                             "parameter_sets": {}, "outputs": []}
            continue
        repo, path = found[0]
        real_name = path.rsplit("/", 1)[-1][:-3]  # the docs' capitalisation
        entry = parse_page(real_name, repo.read(path), repo is ps)
        entry["source"] = f"{repo.label}:{path}"
        if "confirm_impact_source" in entry:
            entry["confirm_impact_source"] = f"{path}: {entry['confirm_impact_source']}"
        cmdlets[real_name] = entry
    return {
        "generated_by": "python -m hcitui.lab.catalogue.build",
        "sources": {r.label: {"commit": r.commit, "date": r.date, "root": r.root} for r in (windows, ps)},
        "cmdlets": cmdlets,
    }


def check_evidence(mirrors: dict[str, Path]) -> list[str]:
    """Every quote in properties.json whose source is one of ``mirrors`` (repo label -> bare git dir),
    looked up verbatim in the cited file at the cited commit. Returns the ones not found."""
    data = json.loads(DEFAULT_OUT.with_name("properties.json").read_text(encoding="utf-8"))
    missing: list[str] = []
    for cmdlet, entry in data["cmdlets"].items():
        for path_key, prop in entry.get("properties", {}).items():
            for item in prop.get("evidence", []):
                repo_commit, _, path = item["source"].partition(":")
                repo, _, commit = repo_commit.partition("@")
                if repo not in mirrors:
                    continue
                text = subprocess.run(["git", "-C", str(mirrors[repo]), "show", f"{commit or 'HEAD'}:{path}"],
                                      capture_output=True, text=True).stdout
                if item["quote"] not in text:
                    missing.append(f"{cmdlet} .{path_key}: {item['source']}: {item['quote']!r}")
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hcitui.lab.catalogue.build", description=__doc__.split("\n")[0])
    parser.add_argument("--windows-docs", type=Path, required=True, help="bare git dir of " + WINDOWS_DOCS)
    parser.add_argument("--ps-docs", type=Path, required=True, help="bare git dir of " + PS_DOCS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON file (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="compare --out with the mirrors; write nothing")
    parser.add_argument("--supportability", type=Path, help="bare git dir of Azure/AzureLocal-Supportability: "
                        "also verify properties.json's quotes from it")
    args = parser.parse_args(argv)
    mirrors = {WINDOWS_DOCS: args.windows_docs, PS_DOCS: args.ps_docs}
    if args.supportability:
        mirrors["Azure/AzureLocal-Supportability"] = args.supportability
    if missing := check_evidence(mirrors):
        print("properties.json quotes not found in their sources:", *missing, sep="\n  ", file=sys.stderr)
        return 1
    data = build(Repo(WINDOWS_DOCS, args.windows_docs, WINDOWS_ROOT), Repo(PS_DOCS, args.ps_docs, PS_ROOT))
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if not args.check:
        args.out.write_text(text, encoding="utf-8")
        sys.stderr.writelines(f"note: {n}\n" for n in NOTES)
        documented = sum(e["documented"] for e in data["cmdlets"].values())
        print(f"wrote {args.out}: {documented} cmdlets documented, {len(data['cmdlets']) - documented} not")
        return 0
    old = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
    diff = list(difflib.unified_diff(old.splitlines(True), text.splitlines(True), str(args.out), "from the mirrors"))
    sys.stdout.writelines(diff)
    print(f"{args.out}: {'differs from' if diff else 'matches'} the mirrors", file=sys.stderr)
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
