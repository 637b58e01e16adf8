"""6) Storage Replica: snapshot, removal, recreation with its initial sync, and the diff."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from hcitui.core import model
from hcitui.core.units import bar, clock, human_bytes
from hcitui.remote import NodeEvent
from hcitui.tui.screens.stepping import SteppingScreen
from hcitui.tui.widgets.node_table import ScrollingTable
from hcitui.tui.widgets.preview import PowerShellPreview
from hcitui.workflow import eta, sr
from hcitui.workflow.events import ProgressEvent, Stage
from hcitui.workflow.observe import ClusterState, observe, problem
from hcitui.workflow.sr.menu import NOT_APPLICABLE
from hcitui.workflow.steps import StepFailed

STATUS_WORDS = {
    "continuouslyreplicating": "replicating",
    "continuouslyreplicating_inrpo": "replicating",
    "continuouslyreplicating_outofrpo": "OUT OF RPO",
    "initialblockcopy": "block copy",
    "notinpartnership": "no partner",
    "failed": "FAILED",
}
SHORT_BAR, LONG_BAR = 8, 30  # the Sync cell's bar, the progress line's bar


def sync_bar(fraction: float) -> Text:
    """``[####....]`` for the Sync cell (a Text: brackets are no markup here)."""
    return Text(bar(fraction, SHORT_BAR, percent=False), no_wrap=True)


def status_word(group: model.SRGroup | None) -> str:
    if group is None:
        return "no group"
    for replica in group.replicas:
        value = str(replica.replication_status or "?")
        if value.lower() not in sr.REPLICATING:
            return STATUS_WORDS.get(value.lower(), value)
    return "replicating" if group.replicas else "no volumes"


def event_status(event: ProgressEvent) -> Text:
    """A partnership's Status cell from a progress event's typed fields (its text is never parsed)."""
    if event.stage is Stage.FAILED:
        return Text("FAILED", style="bold", no_wrap=True)
    if event.stage is Stage.DONE:
        return Text("done", no_wrap=True)
    if event.status:
        return Text(STATUS_WORDS.get(event.status.lower(), event.status), no_wrap=True, overflow="ellipsis")
    if event.stage is Stage.WAITING:
        return Text("waiting", no_wrap=True)
    return Text(event.text, no_wrap=True, overflow="ellipsis")


def progress_line(event: ProgressEvent) -> Text:
    """The progress lines: who and what; then (when the event counts) a bar and the bytes copied; then since
    when, and when the initial sync should finish at the rate it goes (``finish about 14:35``)."""
    line = Text(event.node, style="bold", no_wrap=True, overflow="ellipsis")
    if event.position is not None:
        line.append(f" ({event.position[0]} of {event.position[1]})")
    line.append(": ")
    if event.stage is Stage.FAILED:
        line.append("FAILED", style="bold reverse")
        line.append(": ")
    line.append(event.text)
    measures: list[str] = []
    if event.fraction is not None:
        measures.append(bar(event.fraction, LONG_BAR))
    if event.done is not None and event.total is not None:
        measures.append(f"{human_bytes(event.done)} of {human_bytes(event.total)}")
    when: list[str] = []
    if event.stage is Stage.WAITING and event.since is not None:
        when.append(f"since {clock(event.since)}")
    finish = eta.words(event.eta)
    if finish:
        when.append(finish)
    for part in (("  ".join(measures)), " · ".join(when)):
        if part:
            line.append("\n" + part)
    return line


class SRScreen(SteppingScreen):
    TITLE_TEXT = "6) Storage Replica"
    OUTCOME_ID = "sr-outcome"
    ABOUT = ("Phases 4 and 6. s takes a snapshot of every partnership and group (reads only; writes a JSON file "
             "in the journal folder) and re-reads it from disk. v shows it with the equivalent New-SRPartnership "
             "commands. x removes the partnerships one at a time, only with a re-read snapshot that still "
             "describes them, every node Up and every partnership replicating; you type the cluster's name to "
             "confirm. c recreates them from the snapshot one at a time, each waiting for its initial block "
             "copy, then compares the result with the snapshot. f compares now (ids, status and LSNs are "
             "ignored). Every change shows its PowerShell first; d there is a dry run that sends nothing.")
    MUTATING_ACTIONS = frozenset({"remove", "recreate"})
    BINDINGS = [
        Binding("s", "snapshot", "Snapshot"),
        Binding("v", "view", "View"),
        Binding("x", "remove", "Remove"),
        Binding("c", "recreate", "Recreate"),
        Binding("f", "diff", "Diff"),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("p", "preview", "PowerShell", show=False),
    ]
    # 80x24: the partnerships' table takes what the lines around it leave and scrolls with the cursor.
    DEFAULT_CSS = """
    SRScreen #sr-snapshot { height: 2; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    SRScreen #sr-table { height: 1fr; min-height: 3; }
    SRScreen #sr-detail { height: 3; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    SRScreen #sr-progress { height: auto; max-height: 3; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    SRScreen #sr-outcome { height: auto; max-height: 3; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.state: ClusterState | None = None
        self.snapshot: sr.SRSnapshot | None = None
        self.keys_by_label: dict[str, str] = {}

    def compose_body(self) -> ComposeResult:
        yield Static("", id="sr-snapshot")
        yield ScrollingTable(cursor_type="row", id="sr-table")
        yield Static("", id="sr-detail")
        yield Static("", id="sr-progress")
        yield Static("", id=self.OUTCOME_ID)

    def on_mount(self) -> None:
        if not self.ctx.stretched:
            self._not_applicable()
            return
        table = self.sr_table
        table.add_column("Source RG -> destination RG", key="pair", width=37)
        table.add_column("Computers", key="computers", width=13)
        table.add_column("Status", key="status", width=11)
        table.add_column("Sync", key="sync", width=10)
        table.focus()
        self._show_snapshot()
        self.action_refresh()

    # A cluster that is not stretched has no Storage Replica: the screen says so, and offers no key of its own.
    SR_ACTIONS = frozenset({"snapshot", "view", "remove", "recreate", "diff", "refresh", "preview"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.SR_ACTIONS and not self.ctx.stretched:
            return False
        return super().check_action(action, parameters)

    def _not_applicable(self) -> None:
        """The screen of a cluster that is not stretched: a fact, not a failure; nothing is read."""
        text = Text("Storage Replica: ", style="bold")
        text.append(NOT_APPLICABLE)
        text.append(".\nIts nodes are in one site: nothing to snapshot, remove or recreate.")
        self.query_one("#sr-snapshot", Static).update(text)
        self.sr_table.display = False
        self.say("Phases 4 and 6 do not apply to this cluster. Esc goes back to the menu.")

    # ------------------------------------------------------------------- helpers
    @property
    def sr_table(self) -> DataTable:
        """The partnerships, one row each (keyed by partnership, not by node: no NodeTable here)."""
        return self.query_one("#sr-table", DataTable)

    def say(self, text: str | Text) -> None:
        """The outcome line; plain strings are shown as they are (a PowerShell error's [brackets] are no markup)."""
        super().say(Text(text) if isinstance(text, str) else text)

    def _load_snapshot(self) -> None:
        try:
            self.snapshot = sr.load_snapshot(self.ctx)
        except sr.SnapshotError:
            self.snapshot = None

    def _show_snapshot(self) -> None:
        info = sr.snapshot_info(self.ctx)
        text = Text("Snapshot: ", style="bold")
        if info is None:
            text.append("none yet. s takes one:\nit only reads the cluster, and writes a file in the journal folder.")
        else:
            when = info.taken_at
            try:
                when = datetime.fromisoformat(info.taken_at).astimezone().strftime("%Y-%m-%d %H:%M")
            except ValueError:
                pass
            text.append(f"taken {when}, {info.partnerships} partnerships, ")
            if info.reread and info.status.value == "done":
                text.append("re-read OK", style="bold")
            else:
                text.append("NOT re-read", style="bold reverse")
                text.append(f" ({info.detail})" if info.detail else "")
            text.append(f"\n{info.path}")
        self.query_one("#sr-snapshot", Static).update(text)
        self._load_snapshot()

    # ------------------------------------------------------------------- reading
    async def read(self, *, live: bool = True) -> None:
        """Read the partnerships and groups and show them. ``live`` False: the read after a job, whose
        progress line then goes; otherwise, with no outcome to show, the keys are named instead."""
        self.state = await observe(self.ctx, sr.SR_PARTS)
        if not live:
            self.query_one("#sr-progress", Static).update("")
        self._show_snapshot()
        self._show()
        if live and not self.outcome:
            changes = "" if self.ctx.read_only else "x remove  c recreate  "
            self.say(f"s snapshot  v view  {changes}f diff  p PowerShell  ? help")

    def _rows(self) -> list[tuple[str, str, str, str, model.SRGroup | None, bool]]:
        """(key, label, source computer, destination computer, destination group, live) per partnership."""
        state = self.state
        rows: list[tuple[str, str, str, str, model.SRGroup | None, bool]] = []
        groups = {} if state is None or problem(state.sr_groups) else {g.name.lower(): g for g in state.sr_groups}
        live = [] if state is None or problem(state.sr_partnerships) else state.sr_partnerships
        for p in live:
            rows.append((sr.live_key(p), f"{p.source_rg_name} -> {p.destination_rg_name}", p.source_computer_name,
                         p.destination_computer_name, groups.get(p.destination_rg_name.lower()), True))
        seen = {row[0] for row in rows}
        for sp in self.snapshot.partnerships if self.snapshot else []:
            if sp.key not in seen:
                rows.append((sp.key, sp.label, sp.source_computer, sp.destination_computer, None, False))
        return rows

    def _show(self) -> None:
        table = self.sr_table
        rows = self._rows()
        with self.app.batch_update():
            wanted = {row[0] for row in rows}
            for key in [k.value for k in table.rows if k.value not in wanted]:
                table.remove_row(key)
            for key, label, source, destination, group, live in rows:
                self.keys_by_label[label] = key
                if not live:
                    status, sync = Text("not present", style="bold"), Text("(snapshot)")
                else:
                    status, sync = self._status_cells(group)
                cells = {"pair": Text(label, no_wrap=True, overflow="ellipsis"),
                         "computers": Text(f"{source}>{destination}", no_wrap=True, overflow="ellipsis"),
                         "status": status, "sync": sync}
                if key in table.rows:
                    for column, value in cells.items():
                        table.update_cell(key, column, value)
                else:
                    table.add_row(*cells.values(), key=key)
        state = self.state
        if state is not None:
            problems = [f"{part}: {problem(getattr(state, part))}" for part in ("sr_groups", "sr_partnerships")
                        if problem(getattr(state, part))]
            if problems:
                self.say(Text("Cannot read Storage Replica: " + "; ".join(problems), style="bold"))
            elif not rows:
                self.say("No Storage Replica partnership on the cluster and no snapshot.")
        self._show_detail()

    @staticmethod
    def _status_cells(group: model.SRGroup | None) -> tuple[Text, Text]:
        """(Status, Sync) of a live partnership, from its destination group."""
        if group is None:
            return Text("no group", style="bold"), Text("?")
        remaining = group.bytes_remaining
        if sr.replicating(group) and not remaining:
            return Text("replicating"), Text("in sync")
        total = sum(r.partition_size or 0 for r in group.replicas)
        word = Text(status_word(group), no_wrap=True, overflow="ellipsis")
        if total and remaining <= total:
            fraction = 1 - remaining / total
            return Text(f"copying {fraction:.0%}", no_wrap=True), sync_bar(fraction)
        return word, Text(f"{human_bytes(remaining)} left", no_wrap=True, overflow="ellipsis")

    def _selected_key(self) -> str | None:
        table = self.sr_table
        if not table.row_count:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:  # no cursor yet
            return None

    def _show_detail(self) -> None:
        """The selected partnership in full: names, volumes, settings (from the snapshot, else as read)."""
        key = self._selected_key()
        detail = self.query_one("#sr-detail", Static)
        row = next((r for r in self._rows() if r[0] == key), None) if key else None
        if row is None:
            detail.update("")
            return
        _key, label, _source, _destination, destination_group, live = row
        state = self.state
        groups = {} if state is None or problem(state.sr_groups) else {g.name.lower(): g for g in state.sr_groups}
        sp = self.snapshot.find(key) if self.snapshot and key else None
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(label, style="bold")
        text.append(" (in the snapshot" if sp is not None else " (NOT in the snapshot")
        text.append(")" if live else "; absent now)")
        if sp is not None:
            volumes = f"{', '.join(sp.source_volumes)} -> {', '.join(sp.destination_volumes)}"
            mode, log, rpo, encrypted = (sp.replication_mode, sp.log_size_in_bytes,
                                         sp.async_rpo if sp.asynchronous else None, sp.is_encrypted)
        else:
            source_rg, destination_rg = label.split(" -> ", 1)
            source_group = groups.get(source_rg.lower())
            volumes = (", ".join(r.data_volume for r in source_group.replicas) if source_group else "?") + " -> " + (
                ", ".join(r.data_volume for r in destination_group.replicas) if destination_group else "?")
            mode = str(source_group.replication_mode) if source_group else "?"
            log = source_group.log_size_in_bytes if source_group else None
            rpo = source_group.async_rpo if source_group and mode.lower() == "asynchronous" else None
            encrypted = source_group.is_encrypted if source_group else None
        text.append(f"\nData: {volumes}")
        text.append(f"\n{mode}, log {human_bytes(log)}" + (f", RPO {rpo} s" if rpo is not None else "")
                    + (", encrypted" if encrypted else ", not encrypted"))
        if destination_group is not None and destination_group.bytes_remaining:
            text.append(f"; {human_bytes(destination_group.bytes_remaining)} left to copy")
        detail.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    # ------------------------------------------------------------------ progress
    def show_progress(self, event: ProgressEvent) -> None:
        """A step's event: the progress line, and the partnership's row (``node`` is its label)."""
        self.query_one("#sr-progress", Static).update(progress_line(event))
        key = self.keys_by_label.get(event.node)
        table = self.sr_table
        if key is not None and key in table.rows:
            with self.app.batch_update():
                if event.fraction is not None and event.fraction < 1:
                    table.update_cell(key, "status", Text(f"copying {event.fraction:.0%}", no_wrap=True))
                    table.update_cell(key, "sync", sync_bar(event.fraction))
                else:
                    table.update_cell(key, "status", event_status(event))

    def show_node_event(self, event: NodeEvent) -> None:
        """The rows are partnerships, not nodes: a read's per-node events have no cell here."""
        return None

    # -------------------------------------------------------------- read-only acts
    def action_snapshot(self) -> None:
        self.start_job("snapshot", self._run("snapshot", self._take, ""))

    async def _take(self) -> str:
        snapshot = await sr.take_snapshot(self.ctx, self.progress)
        info = sr.snapshot_info(self.ctx)
        return (f"Snapshot of {len(snapshot.partnerships)} partnerships written and re-read: "
                f"{info.path.name if info else ''}. v shows it.")

    def action_view(self) -> None:
        try:
            snapshot = sr.reread_snapshot(self.ctx)
        except sr.SnapshotError as exc:
            self.outcome = Text(self.sentence(exc), style="bold")
            self.say(self.outcome)
            self._show_snapshot()
            return
        info = sr.snapshot_info(self.ctx)
        self._show_snapshot()
        self.app.push_screen(PowerShellPreview(
            f"Snapshot {info.path.name if info else ''}: re-read OK",
            sr.view_text(snapshot, info.path if info else None, info.sha256 if info else None)))

    def action_diff(self) -> None:
        self.start_job("diff", self._run("diff", self._diff, ""))

    async def _diff(self) -> str:
        try:
            differences = await sr.compare(self.ctx)
        except sr.SnapshotError as exc:
            raise StepFailed("SR diff", exc.sentence, remedy=exc.remedy) from None
        count = len(self.snapshot.partnerships) if self.snapshot else 0
        if not differences:
            return f"Diff: the cluster is the same as the snapshot ({count} partnerships)."
        body = "\n".join(d.sentence for d in differences)
        many = f"{len(differences)} difference{'s' if len(differences) != 1 else ''}"
        self.app.push_screen(PowerShellPreview(f"Diff against the snapshot: {many}",
                                               "# Compared: computers, groups, volumes, log volumes, mode, log size, "
                                               "RPO, encryption.\n# Ignored: ids, status, LSNs, bytes remaining.\n\n"
                                               + body + "\n"))
        return f"Diff: DIFFERENT, {many}: " + "; ".join(d.sentence for d in differences[:2])

    # ------------------------------------------------------------------- changing
    def action_remove(self) -> None:
        self.confirm(sr.plan_remove(self.ctx), "remove SR partnerships", self._remove, typed=True)

    async def _remove(self) -> str:
        removed = await sr.remove_partnerships(self.ctx, self.progress)
        return f"Done: {len(removed)} partnerships removed (proved gone). c recreates them from the snapshot."

    def action_recreate(self) -> None:
        self.confirm(sr.plan_recreate(self.ctx), "recreate SR partnerships", self._recreate)

    async def _recreate(self) -> str:
        await sr.recreate(self.ctx, self.progress)
        return "Done: every partnership recreated, in sync, and the same as the snapshot."

    def action_preview(self) -> None:
        parts = ["# Storage Replica on " + self.ctx.name,
                 "# s (snapshot) and f (diff) only read: Get-SRGroup and Get-SRPartnership.", "",
                 sr.plan_remove(self.ctx).preview(), sr.plan_recreate(self.ctx).preview()]
        self.app.push_screen(PowerShellPreview("PowerShell of Storage Replica removal and recreation",
                                               "\n".join(parts)))
