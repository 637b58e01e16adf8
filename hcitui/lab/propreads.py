"""Which properties of cmdlet output a script reads, and whether public evidence confirms each.

A read is a dotted path from one object a cmdlet writes: ``$n.State`` where ``$n = Get-ClusterNode``,
``$_.Replicas`` inside ``Get-SRGroup | ForEach-Object { ... }``, ``$r.ClusterResult.NodeResults``
where ``$r`` came from ``Get-CauReport``, ``$x.NumOfBytesRemaining`` in ``foreach ($x in $g.Replicas)``.
The inference is deliberately simple (flow-insensitive, one script at a time) and errs towards
finding reads: a path it cannot attribute to a cmdlet is not a read of cmdlet output.

``properties.json`` in the catalogue says, for each (cmdlet, path), where it was confirmed or that
nothing public confirms it. ``hcitui ops show NAME`` prints both, and a test keeps every read of
every declared script either confirmed or listed as unconfirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tree_sitter import Node

from hcitui.lab import psparse
from hcitui.lab.catalogue import Catalogue, load

# Cmdlets whose output is not an object of theirs to look into: values the script names itself
# (registry values, its own JSON), plain strings, booleans and dates.
_NOT_TRACKED = {"get-itemproperty", "get-content", "convertfrom-json", "convertto-json", "join-path", "split-path",
                "test-path", "get-date", "out-null", "out-string", "select-string", "new-scheduledtaskaction",
                "new-scheduledtaskprincipal", "new-scheduledtasksettingsset", "new-scheduledtasktrigger",
                "write-output", "format-list"}
# Cmdlets that pass their input objects through unchanged.
_PASS_THROUGH = {"where-object", "sort-object", "select-object"}
# Reads that are the language's or .NET's, not the cmdlet's.
_IGNORED = {"psobject", "count", "length", "gettype", "pstypenames"}


@dataclass(frozen=True)
class Read:
    cmdlet: str  # the catalogue's name, or "Get-CimInstance <Class>"
    path: str  # dotted, from one output object
    line: int

    @property
    def key(self) -> tuple[str, str]:
        return self.cmdlet, self.path


@dataclass(frozen=True)
class Verdict:
    read: Read
    confirmed: bool
    evidence: list[dict[str, Any]]
    note: str | None


def reads(source: str, catalogue: Catalogue | None = None) -> list[Read]:
    """Every read of cmdlet output in ``source``, in source order, each (cmdlet, path) once."""
    cat = catalogue or load()
    script = psparse.parse(source)
    finder = _Finder(script, cat)
    seen: dict[tuple[str, str], Read] = {}
    for node in psparse.walk(script.root):
        if node.type != "member_access":
            continue
        member = _member_name(script, node)
        if member is None or member.lower() in _IGNORED or _written(node):
            continue
        base = finder.origin(node.children[0])
        if base is None:
            continue
        cmdlet, path = base
        if any(part.lower() in _IGNORED for part in path.split(".")):
            continue
        read = Read(cmdlet, f"{path}.{member}" if path else member, node.start_point[0] + 1)
        seen.setdefault(read.key, read)
    return list(seen.values())


def judge(found: list[Read], catalogue: Catalogue | None = None) -> list[Verdict]:
    cat = catalogue or load()
    table = cat.properties.get("cmdlets", {})
    out = []
    for read in found:
        known = (table.get(read.cmdlet) or {}).get("properties", {})
        entry = known.get(read.path)
        if entry is None:
            # `.Node` is confirmed by evidence for `.Node.NodeName`: the object it names exists.
            entry = next((e for path, e in known.items()
                          if path.startswith(read.path + ".") and not e.get("unconfirmed") and e.get("evidence")), None)
        if entry and not entry.get("unconfirmed") and entry.get("evidence"):
            out.append(Verdict(read, True, list(entry["evidence"]), entry.get("note")))
        else:
            note = (entry or {}).get("note") or "not in the catalogue's properties: nothing public was found"
            out.append(Verdict(read, False, [], note))
    return out


def _written(node: Node) -> bool:
    """``$x.Key = ...``: the left side of an assignment is a write, not a read."""
    child, parent = node, node.parent
    while parent is not None and parent.type != "assignment_expression":
        if parent.type in ("pipeline", "statement_list", "script_block"):
            return False
        child, parent = parent, parent.parent
    return parent is not None and parent.children[0] == child


def _member_name(script: psparse.Script, node: Node) -> str | None:
    name = next((c for c in node.children if c.type == "member_name"), None)
    if name is None:
        return None
    text = script.text(name)
    return text if text.replace("_", "").isalnum() else None


def _unwrap(node: Node) -> Node:
    while node.child_count == 1 and node.type not in ("variable", "command"):
        node = node.children[0]
    return node


class _Finder:
    def __init__(self, script: psparse.Script, cat: Catalogue) -> None:
        self.script = script
        self.cat = cat
        self.variables: dict[str, tuple[str, str]] = {}
        self._busy: set[int] = set()
        # Flow-insensitive: assignments and foreach loops, a few passes so chains settle.
        for _ in range(3):
            for node in psparse.walk(script.root):
                if node.type == "assignment_expression":
                    target = psparse._assigned_variable(script, node.children[0])
                    value = self.origin(node.children[-1])
                    if target and value:
                        self.variables.setdefault(target, value)
                elif node.type == "foreach_statement":
                    var = next((c for c in node.children if c.type == "variable"), None)
                    source = next((c for c in node.children if c.type == "pipeline"), None)
                    if var is not None and source is not None:
                        value = self.origin(source)
                        if value:
                            self.variables.setdefault(script.text(var).lstrip("$").lower(), value)

    def origin(self, node: Node) -> tuple[str, str] | None:
        if node.id in self._busy:
            return None
        self._busy.add(node.id)
        try:
            return self._origin(_unwrap(node))
        finally:
            self._busy.discard(node.id)

    def _origin(self, node: Node) -> tuple[str, str] | None:
        kind = node.type
        text = self.script.text
        if kind == "variable":
            name = text(node).lstrip("$").lower()
            if name == "_":
                return self._dollar_under(node)
            return self.variables.get(name)
        if kind == "member_access":
            base = self.origin(node.children[0])
            member = _member_name(self.script, node)
            if base is None or member is None:
                return None
            return base[0], f"{base[1]}.{member}" if base[1] else member
        if kind == "command":
            return self._command(node)
        if kind in ("pipeline_chain", "pipeline"):
            parts = [c for c in node.children if c.is_named and c.type != "comment"]
            return self.origin(parts[-1]) if parts else None
        if kind in ("parenthesized_expression", "sub_expression", "array_expression", "script_block_expression",
                    "statement_list", "script_block", "script_block_body", "try_statement", "statement_block"):
            inner = [c for c in node.children if c.is_named]
            return self.origin(inner[-1]) if inner else None
        if kind == "assignment_expression":
            return self.origin(node.children[-1])
        return None

    def _command(self, node: Node) -> tuple[str, str] | None:
        command = psparse._command(self.script, node)
        if command.name is None:
            return None
        cmdlet = self.cat.cmdlet(command.name)
        if cmdlet is None:
            return None
        low = cmdlet.name.lower()
        if low in _PASS_THROUGH:
            upstream = self._upstream(node)
            if low == "select-object":
                expand = _parameter_value(self.script, command, "expandproperty")
                if expand:
                    return (upstream[0], f"{upstream[1]}.{expand}" if upstream[1] else expand) if upstream else None
                if _positionals(command, cmdlet) or _parameter_value(self.script, command, "property"):
                    return None  # new objects with the properties named
            return upstream
        if low in _NOT_TRACKED or low == "foreach-object":
            return None
        if low in ("get-childitem", "get-item"):
            path = _parameter_value(self.script, command, "path") or next(
                (e.text for e in command.elements if e.kind == "argument"), None)
            if path and not path.startswith(("$", "(")):
                return f"{cmdlet.name} {path.strip(chr(39) + chr(34))}", ""  # a provider path: its own items
            return cmdlet.name, ""
        if low == "get-ciminstance":
            cls = _parameter_value(self.script, command, "classname") or next(
                (e.text.strip("'\"") for e in command.elements if e.kind == "argument"), None)
            return (f"Get-CimInstance {cls}", "") if cls else None
        return cmdlet.name, ""

    def _upstream(self, node: Node) -> tuple[str, str] | None:
        previous = node.prev_named_sibling
        while previous is not None and previous.type == "comment":
            previous = previous.prev_named_sibling
        return self.origin(previous) if previous is not None else None

    def _dollar_under(self, node: Node) -> tuple[str, str] | None:
        """``$_`` in the script block of ForEach-Object / Where-Object: an object of the upstream."""
        parent = node.parent
        while parent is not None:
            if parent.type == "command":
                command = psparse._command(self.script, parent)
                cmdlet = self.cat.cmdlet(command.name) if command.name else None
                if cmdlet is not None and cmdlet.name.lower() in ("foreach-object", "where-object"):
                    return self._upstream(parent)
            parent = parent.parent
        return None


def _parameter_value(script: psparse.Script, command: psparse.Command, name: str) -> str | None:
    elements = command.elements
    for index, element in enumerate(elements):
        if element.kind == "parameter" and name.startswith(element.text.lstrip("-").rstrip(":").lower()) \
                and len(element.text.lstrip("-").rstrip(":")) >= 2:
            if index + 1 < len(elements) and elements[index + 1].kind in ("argument", "value"):
                return elements[index + 1].text.strip("'\"")
    return None


def evidence(source: str, catalogue: Catalogue | None = None) -> list[str]:
    """Comment lines for ``hcitui ops show``: the reference for each cmdlet the script calls, then
    each property it reads with its evidence, or UNCONFIRMED and why."""
    cat = catalogue or load()
    script = psparse.parse(source)
    lines = ["#", "# Evidence (the lab's catalogue; hcitui/lab/catalogue):"]
    seen: set[str] = set()
    for command in psparse.commands(script):
        if command.name is None or command.name.lower() in script.functions:
            continue
        cmdlet = cat.cmdlet(command.name)
        name = cmdlet.name if cmdlet else command.name
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        if cmdlet is None:
            native = cat.natives.get(command.name.lower())
            where = native["source"] if native else "NOT IN THE CATALOGUE"
        elif cmdlet.documented:
            where = cmdlet.source or "?"
        else:
            where = f"no reference page; parameters not checked ({cmdlet.source or 'no public source'})"
        lines.append(f"#   {name}: {where}")
    verdicts = judge(reads(source, cat), cat)
    if verdicts:
        lines.append("# Properties read on cmdlet output:")
    for verdict in verdicts:
        read = verdict.read
        if verdict.confirmed:
            first = verdict.evidence[0]
            lines.append(f"#   {read.cmdlet} .{read.path}: {first['source']} ({first['quote'][:60]!r})")
        else:
            lines.append(f"#   UNCONFIRMED {read.cmdlet} .{read.path}: {verdict.note}")
    return lines


def null_pipes(source: str) -> list[tuple[int, str]]:
    """Where a property read is piped into ForEach-Object: when the property is ``$null`` (a node
    with no fault domain, a run with no results yet) the block still runs once, on ``$null``, and
    the script reports a phantom element. ``foreach ($x in $obj.Prop)`` runs zero times instead
    (about_Foreach, PowerShell 3.0 and later; ForEach-Object's InputObject takes $null as an item).
    Returns (line, text) for each."""
    script = psparse.parse(source)
    found = []
    for command in psparse.commands(script):
        if command.name is None or command.name.lower() not in ("foreach-object", "%", "foreach"):
            continue
        upstream = command.node.prev_named_sibling
        if upstream is not None and _unwrap(upstream).type == "member_access":
            found.append((command.node.start_point[0] + 1, script.text(upstream)))
    return found


def _positionals(command: psparse.Command, cmdlet: Any) -> list[str]:
    """The arguments no parameter name takes (-First 1 takes its 1; a switch takes nothing)."""
    params = cmdlet.all_parameters()
    out: list[str] = []
    skip = False
    for element in command.elements:
        if skip:
            skip = False
            continue
        if element.kind == "parameter":
            written = element.text.lstrip("-").rstrip(":").lower()
            match = [p for p in params.values() if p.name.lower().startswith(written)]
            skip = bool(match) and not match[0].switch and not element.colon_value
        elif element.kind == "argument":
            out.append(element.text)
    return out
