"""What tests at every layer share that is not a fixture: a fake clock, example parameter values,
the earlier phases done quickly, the lab reached in-process. Fixtures live in the conftest files."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from hcitui.lab import Lab
from hcitui.lab.state import _volume_path

START = 1_700_000_000.0


def lab_in_process(monkeypatch, timings: Mapping[str, float] | None = None, poll: float | None = None,
                   prepare: Callable[[Lab], object] | None = None) -> None:
    """Every ``--lab`` context this test opens reaches the lab in-process (the same workflow and scripts, no
    WinRM endpoints to start), with ``timings`` set on the lab (each command's lab starts with its own),
    ``prepare`` run on it, and ``poll`` as the context's polling interval, when given."""
    from hcitui.cli import context as wiring

    original = wiring.context_for_lab

    def pinned(lab, **kwargs):
        kwargs["transport"] = "inprocess"
        for name, seconds in (timings or {}).items():
            assert hasattr(lab.state.timings, name), f"the lab has no timing {name!r}"
            setattr(lab.state.timings, name, seconds)
        if prepare is not None:
            prepare(lab)
        ctx = original(lab, **kwargs)
        if poll is not None:
            ctx.poll = poll
        return ctx

    monkeypatch.setattr(wiring, "context_for_lab", pinned)


class FakeClock:
    """A clock the tests move by hand: ``clock.t`` is "now"; ``clock()`` reads it."""

    def __init__(self, t: float = START) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        self.t += seconds
        return self.t

    def sleep(self, seconds: float) -> None:
        """What the lab calls while an operation waits on lab time: fake time moves on."""
        self.t += seconds


# Example values for declared operations' parameters, by PowerShell name. A new operation with
# a new required parameter adds one line here; every per-operation test then covers it.
def example_values(lab: Lab | None = None) -> dict[str, object]:
    iso = lab.state.iso_path if lab else "C:\\ISO\\AzureLocal-2509-25398.iso"
    staging = lab.state.staging_path if lab else "C:\\SetupFiles\\AzureLocal-23H2"
    return {
        "Name": "LAB-A2",
        "Path": iso,
        "Offset": 0,
        "Data": "aGNpdHVp",
        "IsoPath": iso,
        "Destination": staging,
        "MediaPath": staging,
        "RefsEnableMetadataValidation": 0,
        "SkipSmallLocalAllocations": 0,
        "FriendlyName": "Pool-SiteA",
        # Storage Replica: the lab's first partnership (tests/test_wsman.py removes it before recreating it)
        "SourceRGName": "SiteA-Data01-RG",
        "DestinationComputerName": "LAB-B1",
        "DestinationRGName": "SiteB-Replica01-RG",
        "SourceVolumeName": ["C:\\ClusterStorage\\SiteA-Data01"],
        "SourceLogVolumeName": _volume_path("log-a-01"),
        "DestinationVolumeName": [_volume_path("data-b-01")],
        "DestinationLogVolumeName": _volume_path("log-b-01"),
        # Cluster-Aware Updating: monthly updates need no staged media (tests/test_wsman.py runs the upgrade)
        "Plugin": "WindowsUpdate",
        # The CAU coordinator's preflight: which nodes it must reach over WinRM
        "NodeNames": ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"],
        # Readiness remedies (ps/remedies.py): a Windows feature, and the BitLocker system volume
        "Names": ["NetworkATC"],
        "MountPoint": "C:",
        # The fast offline update (ps/offline.py): the cluster service's start type, a staged package
        "StartupType": "Disabled",
        "PackagePath": "C:\\SetupFiles\\Updates\\windows10.0-kb5048654-x64.msu",
        "HotFixId": "KB5048654",
    }


def example_params(op, lab: Lab | None = None, *, all_fields: bool = False) -> dict[str, object]:
    """Valid parameters for ``op`` (PowerShell names): the required ones, or every known one."""
    values = example_values(lab)
    out = {}
    for name, info in op.params.model_fields.items():
        key = info.alias or name
        if info.is_required() or (all_fields and key in values):
            assert key in values, f"{op.name}: add an example value for {key} to tests/conftest.py"
            out[key] = values[key]
    op.make_params(out)
    return out


# ----------------------------------------------------------- the phases before the OS upgrade

EARLIER_BOOT = "2000-01-01T00:00:00+00:00"  # a boot before the lab nodes' current one


async def earlier_phases(ctx, lab=None, *, registry_values: bool = True, prereq: bool = True,
                         sr_snapshot: bool = True, iso: bool = True) -> None:
    """Open the OS upgrade's gates (hcitui/workflow/gates.py) quickly, as the earlier phases would leave
    them. Registry: the lab's values set and in force (as after a restart), and hcitui's record of setting
    them at an earlier boot. Prerequisites: a passing run recorded now. SR: a real snapshot, re-read.
    ISO: the media staged in the lab and a real verification (it records every node's counts). Each
    part can be left out, so a test sees that gate closed."""
    from hcitui.core.journal import StepStatus
    from hcitui.lab.state import StagedMedia
    from hcitui.workflow import prereq as prereq_wf
    from hcitui.workflow import registry, sr, staging

    if registry_values:
        if lab is not None:
            for node in lab.state.nodes.values():
                node.refs_metadata_validation, node.refs_effective = 0, 0
                node.vid_parameters_key, node.skip_small_local_allocations, node.skip_effective = True, 0, 0
            lab.save()
        for name in ctx.client.node_names:
            ctx.journal.set_step(registry.PHASE, registry.STEP, name, StepStatus.DONE, "set (test)",
                                 data={"boot_at_set": EARLIER_BOOT}, fresh=True)
    if iso:
        if lab is not None:
            path = lab.state.staging_path
            media = next((n.staged[path] for n in lab.state.nodes.values() if path in n.staged),
                         StagedMedia(file_count=1187, total_bytes=6174015488))
            for node in lab.state.nodes.values():
                node.staged[path] = media.model_copy()
            lab.save()
        await staging.verify_staging(ctx)
    if sr_snapshot:
        await sr.take_snapshot(ctx)
    if prereq:
        ctx.journal.set_step(prereq_wf.PHASE, prereq_wf.STEP, None, StepStatus.DONE, "PASSED (test)", fresh=True)


def earlier_phases_headless(state_home, lab=None, **parts) -> None:
    """The same for headless tests: on the lab and the journal under ``state_home`` (LAB-STRETCH)."""
    import asyncio

    from hcitui.cli import context as wiring

    lab = lab or wiring.open_lab(state_home, 4)
    ctx = wiring.context_for_lab(lab, read_only=False, state_root=state_home)

    async def go() -> None:
        try:
            await earlier_phases(ctx, lab, **parts)
        finally:
            await ctx.close()

    asyncio.run(go())
    lab.save()
