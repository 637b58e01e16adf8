"""End to end in a real terminal: `hcitui` in tmux at 80x24, driven by send-keys, read by capture-pane.

Each test runs its own tmux server (a private socket), started and killed by the test; the
processes it signals are the ones it started. Waits are bounded: poll the pane until the text
shows, for at most WAIT seconds.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from hcitui.core.journal import Journal, StepStatus
from hcitui.tui.screens.menu import EXIT_NUMBER, menu_entries

PROJECT = Path(__file__).resolve().parents[2]
WAIT = 40.0
MENU_PROMPT = "Enter number to select an option"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One private tmux server with one 80x24 session."""

    def __init__(self, tmp_path: Path) -> None:
        self.socket = f"hcitui-test-{uuid.uuid4().hex[:10]}"
        self.session = "t"
        self.tmp = tmp_path

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=15,
                              check=check)

    def start(self, shell: str, *, width: int = 80, height: int = 24) -> None:
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height),
                  "sh", "-c", shell)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", self.session, key)
            # A lone ESC followed at once by a key reads as Alt+key: let the app see it alone.
            time.sleep(0.4 if key == "Escape" else 0.05)

    def wait_until(self, check, what: str, timeout: float = WAIT) -> str:
        deadline = time.monotonic() + timeout
        shown = self.screen()
        while not check(shown) and time.monotonic() < deadline:
            time.sleep(0.2)
            shown = self.screen()
        assert check(shown), f"{what} did not show within {timeout:.0f} s; the screen was:\n{shown}"
        return shown

    def wait_gone(self, text: str, timeout: float = WAIT) -> str:
        deadline = time.monotonic() + timeout
        shown = self.screen()
        while text in shown and time.monotonic() < deadline:
            time.sleep(0.2)
            shown = self.screen()
        assert text not in shown, f"{text!r} still on the screen after {timeout:.0f} s:\n{shown}"
        return shown

    def screen(self) -> str:
        done = self.tmux("capture-pane", "-p", "-t", self.session, check=False)
        return done.stdout

    def wait_for(self, *texts: str, timeout: float = WAIT) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if all(t in shown for t in texts):
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{texts!r} did not show within {timeout:.0f} s; the screen was:\n{shown}")

    def screen_with_attributes(self) -> str:
        return self.tmux("capture-pane", "-p", "-e", "-t", self.session, check=False).stdout

    def pane_pid(self) -> int:
        return int(self.tmux("list-panes", "-t", self.session, "-F", "#{pane_pid}").stdout.split()[0])

    def kill(self) -> None:
        self.tmux("kill-server", check=False)


@pytest.fixture
def tmux(tmp_path):
    term = Tmux(tmp_path)
    try:
        yield term
    finally:
        term.kill()


def hcitui_shell(tmp_path: Path, args: str, *, env: dict[str, str], pid_file: Path | None = None) -> str:
    """A shell line that runs hcitui with ``env``, records its pid, its exit status and the tty settings
    before and after, then stays (so the pane can be read after hcitui exits)."""
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    python = shlex.quote(sys.executable)
    inner = f"echo $$ > {shlex.quote(str(pid_file))}; " if pid_file else ""
    inner += f"exec env {assignments} {python} -m hcitui {args}"
    out = shlex.quote(str(tmp_path))
    return (f"cd {shlex.quote(str(PROJECT))}; stty -g > {out}/stty-before; sh -c {shlex.quote(inner)}; "
            f"echo \"hcitui exited $?\"; echo $? > /dev/null; stty -g > {out}/stty-after; sleep 600")


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "HCITUI_PASSWORD": ""}
    env.update(extra)
    return env


def screen_title(entry) -> str:
    return getattr(entry.screen, "TITLE_TEXT", "") or f"{entry.number}) {entry.title}"


def open_by_number(tmux: Tmux, number: int) -> None:
    numbers = [e.number for e in menu_entries()] + [EXIT_NUMBER]
    typed = str(number)
    tmux.keys(*typed)
    if [n for n in numbers if str(n).startswith(typed)] != [number]:
        tmux.keys("Enter")  # another option starts with these digits: Enter confirms


SGR = re.compile(r"\x1b\[([0-9;]*)m")


def colours_used(painted: str) -> set[str]:
    """The colour parameters of every SGR sequence on the screen (default colours 39/49 left out)."""
    found = set()
    for params in SGR.findall(painted):
        parts = params.split(";")
        i = 0
        while i < len(parts):
            p = parts[i]
            if p in ("38", "48"):
                found.add(";".join(parts[i:i + (3 if parts[i + 1:i + 2] == ["5"] else 5)]))
                i += 3 if parts[i + 1:i + 2] == ["5"] else 5
                continue
            if p.isdigit() and (30 <= int(p) <= 37 or 40 <= int(p) <= 47 or 90 <= int(p) <= 107):
                found.add(p)
            i += 1
    return found


def walk_every_screen(tmux: Tmux, check_colours=None) -> dict[int, str]:
    seen = {}
    for entry in menu_entries():
        tmux.wait_for(MENU_PROMPT)
        open_by_number(tmux, entry.number)
        shown = tmux.wait_for(screen_title(entry), "Back")
        lines = shown.splitlines()
        assert "LAB-STRETCH" in lines[0] and screen_title(entry) in lines[0], shown
        assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
        seen[entry.number] = shown
        if check_colours is not None:
            check_colours(entry, colours_used(tmux.screen_with_attributes()))
        tmux.keys("Escape")
    tmux.wait_for(MENU_PROMPT)
    return seen


def assert_quits_cleanly(tmux: Tmux, tmp_path: Path) -> None:
    tmux.keys("q")
    tmux.wait_for("hcitui exited 0")
    assert (tmp_path / "stty-before").read_text() == (tmp_path / "stty-after").read_text()


def test_every_screen_by_number_no_color_80x24(tmux, tmp_path):
    env = base_env(tmp_path, NO_COLOR="1", TERM="xterm-256color")
    tmux.start(hcitui_shell(tmp_path, "--lab", env=env))
    menu = tmux.wait_for(MENU_PROMPT, " LIVE ")
    assert "Azure Stack HCI upgrade" in menu and " 0) Exit" in menu
    for entry in menu_entries():
        assert f"{entry.number:>2}) {entry.title}" in menu

    def no_colour(entry, colours):
        # NO_COLOR: no colour at all, the terminal's own foreground and background (never black on black).
        assert not colours, f"{screen_title(entry)} paints colours {sorted(colours)} under NO_COLOR"

    assert not colours_used(tmux.screen_with_attributes())
    seen = walk_every_screen(tmux, no_colour)
    assert "refreshed" in seen[9] or "refreshing" in seen[9]  # the monitor
    assert "Showing:" in seen[10]  # the audit log
    assert "One-node-out lock" in seen[11]  # the journal
    # The help lists the keys of the screen it is opened from.
    open_by_number(tmux, 9)
    tmux.wait_for("9) Monitor")
    tmux.keys("?")
    help_text = tmux.wait_for("Help: 9) Monitor", "Refresh now")
    assert "Esc closes this help" in help_text
    tmux.keys("Escape", "Escape")
    tmux.wait_for(MENU_PROMPT)
    assert_quits_cleanly(tmux, tmp_path)


def test_every_screen_by_number_on_a_linux_console(tmux, tmp_path):
    env = base_env(tmp_path, TERM="linux")
    tmux.start(hcitui_shell(tmp_path, "--lab --read-only", env=env))
    tmux.wait_for(MENU_PROMPT, "READ-ONLY")

    def sixteen_colours(entry, colours):
        # A Linux console has 16 colours: no 256-colour or truecolor sequence.
        assert not [c for c in colours if c.startswith(("38;", "48;"))], (screen_title(entry), sorted(colours))

    seen = walk_every_screen(tmux, sixteen_colours)
    assert all("READ-ONLY" in text.splitlines()[0] for text in seen.values())
    assert_quits_cleanly(tmux, tmp_path)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=10)
    return child.pid


def test_sighup_leaves_terminal_and_journal_sane_and_restart_offers_resume(tmux, tmp_path):
    state = tmp_path / "state" / "hcitui"
    # A run that was cut short earlier: its step is in the journal as running, by a process now gone.
    journal = Journal.open(state, "LAB-STRETCH")
    journal.set_step(1, "restart", "LAB-A1", StepStatus.RUNNING)
    data = json.loads(journal.path.read_text())
    data["steps"]["1/restart/LAB-A1"]["pid"] = dead_pid()
    journal.path.write_text(json.dumps(data))

    pid_file = tmp_path / "hcitui.pid"
    env = base_env(tmp_path, NO_COLOR="1")
    tmux.start(hcitui_shell(tmp_path, "--lab", env=env, pid_file=pid_file))
    tmux.wait_for("hcitui stopped while a step was running", "restart on LAB-A1")
    tmux.keys("Escape")
    tmux.wait_gone("hcitui stopped while a step was running")
    open_by_number(tmux, 7)  # verification: a run under way when the session drops
    tmux.wait_for("7) Verification")

    pid = int(pid_file.read_text())
    os.kill(pid, 1)  # SIGHUP, as sshd sends when the session drops
    shown = tmux.wait_for("hcitui exited 129")
    assert MENU_PROMPT not in shown  # back on the shell's screen: the alternate screen was left
    assert (tmp_path / "stty-before").read_text() == (tmp_path / "stty-after").read_text()
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]

    # The journal is whole, and nothing is left "running" by a process that is gone.
    reopened = Journal.open(state, "LAB-STRETCH")
    assert all(r.status is not StepStatus.RUNNING for r in reopened.steps())
    verification = reopened.step(7, "verification")
    assert verification is None or verification.status in (StepStatus.DONE, StepStatus.FAILED, StepStatus.UNKNOWN)
    restart = reopened.step(1, "restart", "LAB-A1")
    assert restart.status is StepStatus.UNKNOWN

    # A new start (a new SSH session) comes back to the menu and still offers to re-verify.
    tmux.kill()
    again = Tmux(tmp_path)
    try:
        # Still interrupted (never re-verified), so still offered; and the menu is behind it.
        again.start(hcitui_shell(tmp_path, "--lab", env=env))
        again.wait_for("hcitui stopped while a step was running", "restart on LAB-A1")
        again.keys("Escape")
        shown = again.wait_gone("hcitui stopped while a step was running")
        assert "interrupted" in shown  # the journal item says so
        open_by_number(again, 11)
        journal_view = again.wait_for("11) Journal", "UNKNOWN")
        assert "restart" in journal_view
        again.keys("Escape")
        again.wait_for(MENU_PROMPT)
        again.keys("q")
        again.wait_for("hcitui exited 0")
    finally:
        again.kill()


def test_monitor_follows_changes_made_by_another_process(tmux, tmp_path):
    """`hcitui monitor --config PATH` on `hcitui lab serve --write-config PATH` shows what a second process does."""
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.pop("HCITUI_PASSWORD", None)
    config = tmp_path / "lab.toml"
    server = subprocess.Popen([sys.executable, "-m", "hcitui", "lab", "serve", "--write-config", str(config),
                               "--reboot-seconds", "3"],
                              cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = None
    try:
        for _ in range(40):
            line = server.stdout.readline()
            assert line, "lab serve stopped: " + server.stderr.read()
            if line.startswith("config "):
                break
        tmux.start(hcitui_shell(tmp_path, f"monitor --config {shlex.quote(str(config))} --interval 1",
                                env=base_env(tmp_path, NO_COLOR="1")))
        first = tmux.wait_for("9) Monitor", "READ-ONLY", "refreshed", "RunNotInProgress")
        assert "LAB-B2" in first and "20349." in first

        # The second process: hcitui itself, setting the registry values and restarting LAB-B2 (drain,
        # restart, wait, resume, wait for storage), while the monitor watches.
        base = [sys.executable, "-m", "hcitui", "--config", str(config)]
        done = subprocess.run([*base, "registry", "--yes"], cwd=PROJECT, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        second = subprocess.Popen([*base, "restart", "--node", "LAB-B2", "--yes"], cwd=PROJECT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def b2_row(text: str) -> str:
            return next((line for line in text.splitlines() if line.lstrip().startswith("LAB-B2")), "")

        gone = tmux.wait_until(lambda shown: "unreachable" in b2_row(shown), "LAB-B2 unreachable")
        assert re.search(r"unreachable \d+:\d\d", b2_row(gone)), b2_row(gone)
        back = tmux.wait_for("Repair")  # back in the cluster: its disks resync
        assert "%" in next(line for line in back.splitlines() if "Repair" in line)
        output, _ = second.communicate(timeout=180)
        assert second.returncode == 0, output
        quiet = tmux.wait_until(lambda shown: "Repair" not in shown and re.search(r"\bUp\b", b2_row(shown)),
                                "LAB-B2 Up with storage quiet")
        assert "20349." in b2_row(quiet) and "none running" in quiet
        tmux.keys("Escape")
        tmux.wait_for(MENU_PROMPT)
        tmux.keys("q")
        tmux.wait_for("hcitui exited 0")
    finally:
        if second is not None and second.poll() is None:
            second.kill()
            second.wait(timeout=10)
        if server.poll() is None:
            server.send_signal(2)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)
