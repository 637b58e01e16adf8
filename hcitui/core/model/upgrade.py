"""The OS upgrade: builds, the upgrade registry values, the staged media, setup.exe and its exit codes."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from hcitui.core.model.base import PSDateTime, PSModel, _as_list_keep_commas

UPGRADE_FROM_BUILD = 20349

UPGRADE_TO_BUILD = 25398


class OsVersion(PSModel):
    current_build_number: int
    ubr: int | None = Field(None, alias="UBR")
    display_version: str | None = None
    product_name: str | None = None
    last_boot_up_time: PSDateTime = None

    @property
    def build(self) -> str:
        return f"{self.current_build_number}.{self.ubr}" if self.ubr is not None else str(self.current_build_number)


class RegistryValues(PSModel):
    """The two upgrade registry values on one node (None = not set)."""

    refs_enable_metadata_validation: int | None = None
    vid_parameters_key_exists: bool = False
    skip_small_local_allocations: int | None = None

    @property
    def fix_applied(self) -> bool:
        return self.refs_enable_metadata_validation == 0 and self.skip_small_local_allocations == 0


class StagingInfo(PSModel):
    """What an extracted ISO folder holds on one node."""

    path: str
    exists: bool
    has_setup: bool = False
    file_count: int = 0
    total_bytes: int = 0


class SetupStarted(PSModel):
    """setup.exe was started for an in-place upgrade (it restarts the node when installed)."""

    started: bool
    setup_path: str
    # Where it runs: a scheduled task (SYSTEM) whose runner records setup's exit code in result_path.
    task_name: str | None = None
    result_path: str | None = None
    already_running: bool = False  # the task was running already: nothing new was started


# setup.exe's exit codes, as Microsoft documents them. Sources:
# - "Windows Setup Command-Line Options" (learn.microsoft.com/windows-hardware/manufacture/desktop/
#   windows-setup-command-line-options; public source MicrosoftDocs/commercialization-public
#   manufacture/desktop/windows-setup-command-line-options.md): the /Auto exit codes 0x3, 0x5, 0x7 and
#   the /Compat codes 0xC1900210, 0xC1900208, 0xC1900204, 0xC1900200, 0xC190020E;
# - "Upgrade error codes" (MicrosoftDocs/windows-itpro-docs windows/deployment/upgrade/upgrade-error-codes.md):
#   the same compatibility result codes, and 0xC1900101, the generic rollback code
#   (windows/deployment/upgrade/resolution-procedures.md: "usually indicates that an incompatible driver").
# Each entry: (name, meaning, what to do before trying again). The names and meanings are Microsoft's; the
# advice is hcitui's.
SETUP_EXIT_CODES: dict[int, tuple[str, str, str]] = {
    0x0: ("", "setup exited without an error", ""),
    0x3: ("CONX_SETUP_EXITCODE_CONTINUE_REBOOT", "the upgrade was successful (setup restarts the node)", ""),
    0x5: ("CONX_SETUP_EXITCODE_RESUME_AT_COMPAT_REPORT",
          "the compatibility check found issues that must be resolved before the upgrade can continue",
          "read the compatibility report (CompatData XML) and setuperr.log in the Panther folder and resolve "
          "what they name"),
    0x7: ("CONX_SETUP_EXITCODE_AUTO_INSTALL_FAIL", "the installation option (upgrade keeping apps and data) "
          "was not available", "check that the staged media is the 23H2 ISO for this node's edition"),
    0xC1900210: ("MOSETUP_E_COMPAT_SCANONLY", "setup only scanned for compatibility and found no issue; "
                 "it did not install", "check setup's switches (hcitui never passes /Compat ScanOnly)"),
    0xC1900208: ("MOSETUP_E_COMPAT_INSTALLREQ_BLOCK", "setup found an actionable compatibility issue, such as "
                 "an incompatible app", "read setuperr.log and the CompatData XML in the Panther folder, and "
                 "remove or update what blocks the upgrade"),
    0xC1900204: ("MOSETUP_E_COMPAT_MIGCHOICE_BLOCK", "the migration choice selected is not available (keeping "
                 "apps and data is not possible from this edition)",
                 "check that the staged media matches the installed edition"),
    0xC1900200: ("MOSETUP_E_COMPAT_SYSREQ_BLOCK", "the computer is not eligible for this version",
                 "check the node against the 23H2 hardware requirements"),
    0xC190020E: ("MOSETUP_E_INSTALLDISKSPACE_BLOCK", "the computer does not have enough free space to install",
                 "free space on the system drive"),
    0xC1900101: ("", "setup rolled back (a generic rollback code, usually an incompatible driver)",
                 "read the rollback logs in $WINDOWS.~BT\\Sources\\Rollback and update or remove the driver "
                 "they name"),
}


SETUP_SUCCESS_CODES = frozenset({0x0, 0x3})


SETUP_LOG_FOLDER = r"C:\$WINDOWS.~BT\Sources\Panther"
"""Where setup logs its down-level phase: setupact.log (actions) and setuperr.log (errors); a failed
upgrade's rollback logs go to ``$WINDOWS.~BT\\Sources\\Rollback``. Source: "Log files"
(MicrosoftDocs/windows-itpro-docs windows/deployment/upgrade/log-files.md) and "Windows Setup Log Files
and Event Logs" (MicrosoftDocs/commercialization-public \
manufacture/desktop/windows-setup-log-files-and-event-logs.md)."""


def setup_exit_hex(code: int) -> str:
    """An exit code as Windows writes it: ``0xC1900208`` (PowerShell's ExitCode is a signed Int32)."""
    return f"0x{code & 0xFFFFFFFF:X}"


def setup_exit_meaning(code: int) -> tuple[str, str]:
    """(meaning, remedy) of setup's exit code; an undocumented one says so."""
    name, meaning, remedy = SETUP_EXIT_CODES.get(code & 0xFFFFFFFF, ("", "", ""))
    if not meaning:
        return ("an exit code Microsoft's setup documentation does not list",
                "read setuperr.log and setupact.log in the Panther folder (SetupDiag reads them too)")
    return (f"{name}: {meaning}" if name else meaning), remedy


class OsUpgradeStatus(PSModel):
    """How the setup that ``start_os_upgrade`` handed to a scheduled task is doing on one node.

    The task's state and last result come from Get-ScheduledTask / Get-ScheduledTaskInfo; the exit code
    and times from the file the task's runner writes once ``Start-Process -Wait -PassThru`` returns.
    """

    task_name: str
    task_present: bool = False
    task_state: str | None = None  # Get-ScheduledTask State: Unknown, Disabled, Queued, Ready, Running
    last_task_result: int | None = None  # Get-ScheduledTaskInfo LastTaskResult (0x41301 while running)
    last_run_time: PSDateTime = None
    result_path: str | None = None
    runner_started: PSDateTime = None  # the runner began (it then starts setup.exe)
    setup_path: str | None = None
    exit_recorded: bool = False  # the runner wrote setup's exit code
    exit_code: int | None = None
    setup_finished: PSDateTime = None
    runner_error: str | None = None  # the runner could not start setup (Start-Process failed)
    error_log_path: str = SETUP_LOG_FOLDER + r"\setuperr.log"
    error_log_tail: Annotated[list[str], BeforeValidator(_as_list_keep_commas)] = Field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.task_present and (self.task_state or "").lower() in ("running", "queued")

    @property
    def exit_hex(self) -> str | None:
        return setup_exit_hex(self.exit_code) if self.exit_code is not None else None

    @property
    def failed(self) -> bool:
        """Setup ended and will not upgrade this node: a recorded failure, or a runner that could not start it."""
        if self.runner_error:
            return True
        return self.exit_recorded and self.exit_code is not None and \
            (self.exit_code & 0xFFFFFFFF) not in SETUP_SUCCESS_CODES

    @property
    def ended_unrecorded(self) -> bool:
        """The task is not running, and no exit code was recorded: setup and its runner died without a word
        (or were never started by the task at all)."""
        return not self.running and not self.exit_recorded and not self.runner_error
