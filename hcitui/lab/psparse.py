"""A PowerShell script as the lab's front door sees it: a syntax tree and the commands in it.

The parse comes from tree-sitter-powershell (PyPI), a grammar of PowerShell 7's syntax. What
Windows PowerShell 5.1 refuses beyond it (the pipeline chain operators, ``??``, the ternary) is
found by :mod:`hcitui.lab.frontdoor` on this tree. This module only describes; it judges nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

_LANGUAGE = Language(tree_sitter_powershell.language())

# `2>$null`, `*>&1`, `>> file`: the grammar reads some redirections as bare words.
_REDIRECTION = re.compile(r"^(?:[1-6*])?>>?(?:&[1-6])?")
_EXPRESSION_HEAD = re.compile(r"^[-+]?\d[\d.]*(?:\.\.|$)")


@dataclass(frozen=True)
class Position:
    line: int  # 1-based, as PowerShell counts
    column: int  # 1-based
    text: str  # the whole source line
    width: int  # how many characters to underline


@dataclass
class Element:
    """One thing written after a command's name."""

    kind: str  # "parameter", "argument" or "splat"
    text: str
    node: Node
    colon_value: bool = False  # -Name:value (the value is attached to the parameter)


@dataclass
class Command:
    """One command invocation in a pipeline."""

    name: str | None  # None when the name is computed (& $path, & { ... })
    node: Node
    elements: list[Element]
    piped: bool  # something flows into it from an earlier command in its pipeline
    invoked: bool = False  # called with & or .
    prefix: str = ""  # the name's source text, for messages

    @property
    def position(self) -> Node:
        return self.node


@dataclass
class Script:
    source: str
    tree: object
    root: Node
    functions: set[str] = field(default_factory=set)

    def text(self, node: Node) -> str:
        return self.source.encode("utf-8")[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def position(self, node: Node, width: int | None = None) -> Position:
        row, col_bytes = node.start_point
        line_bytes = self.source.encode("utf-8").split(b"\n")[row] if self.source else b""
        col = len(line_bytes[:col_bytes].decode("utf-8", "replace")) + 1
        line = line_bytes.decode("utf-8", "replace").rstrip("\r")
        if width is None:
            width = max(1, min(len(self.text(node).split("\n")[0]), len(line) - col + 1))
        return Position(row + 1, col, line, width)


@lru_cache(maxsize=512)
def parse(source: str) -> Script:
    tree = Parser(_LANGUAGE).parse(source.encode("utf-8"))
    script = Script(source, tree, tree.root_node)
    for node in walk(script.root):
        if node.type == "function_statement":
            name = next((c for c in node.children if c.type == "function_name"), None)
            if name is not None:
                script.functions.add(script.text(name).lower())
    return script


def walk(node: Node) -> Iterator[Node]:
    """Every node below ``node``, depth first, in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def errors(script: Script) -> Iterator[Node]:
    """The nodes where the grammar could not read the script (ERROR or MISSING)."""
    for node in walk(script.root):
        if node.type == "ERROR" or node.is_missing:
            yield node


def tokens(script: Script) -> Iterator[Node]:
    """Leaf nodes outside strings and comments."""
    for node in walk(script.root):
        if node.child_count == 0 and not _inside(node, ("comment", "string_literal")):
            yield node


def _inside(node: Node, kinds: tuple[str, ...]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.type in kinds:
            return True
        parent = parent.parent
    return False


def expandable_strings(script: Script) -> Iterator[Node]:
    for node in walk(script.root):
        if node.type in ("expandable_string_literal", "expandable_here_string_literal"):
            yield node


def commands(script: Script) -> Iterator[Command]:
    for node in walk(script.root):
        if node.type == "command":
            yield _command(script, node)


def _command(script: Script, node: Node) -> Command:
    name: str | None = None
    invoked = False
    prefix = ""
    elements: list[Element] = []
    for child in node.children:
        if child.type == "command_invokation_operator":
            invoked = True
        elif child.type == "command_name":
            name = prefix = script.text(child)
        elif child.type == "command_name_expr":
            inner = child.children[0] if child.children else None
            prefix = script.text(child)
            if inner is not None and inner.type == "command_name":
                name = script.text(inner)
            elif inner is not None and inner.type == "string_literal":
                name = _unquote(script.text(inner))
        elif child.type == "command_elements":
            elements = _elements(script, child)
    if name is not None:
        name = name.strip()
        if _EXPRESSION_HEAD.match(name):
            name = None  # `1..3 | ...`: the grammar calls a range a command name; it is an expression
    return Command(name=name, node=node, elements=elements, piped=_piped(node), invoked=invoked, prefix=prefix)


def _piped(node: Node) -> bool:
    """Whether an earlier command or expression of the same pipeline feeds this command."""
    sibling = node.prev_named_sibling
    return node.parent is not None and node.parent.type == "pipeline_chain" and sibling is not None


def _elements(script: Script, node: Node) -> list[Element]:
    out: list[Element] = []
    colon = False  # the last parameter was written -Name: and its value follows
    for child in node.children:
        if child.type == "command_argument_sep":
            # -Name:value: the grammar puts the colon in a separator, the value inside it or after it.
            if any(c.type == ":" for c in child.children) and out and out[-1].kind == "parameter":
                out[-1].colon_value = True
                values = [c for c in child.children if c.type != ":" and c.is_named]
                for value in values:
                    out.append(Element("value", script.text(value), value))
                colon = not values
            continue
        if colon:
            colon = False
            out.append(Element("value", script.text(child), child))
            continue
        if child.type in ("redirection", "comment"):
            continue
        text = script.text(child)
        if child.type == "command_parameter":
            if text == "--%":
                break  # stop-parsing: the rest goes to a native command as it is
            out.append(Element("parameter", text, child))
        elif child.type == "generic_token" and _REDIRECTION.match(text):
            continue
        elif text.startswith("@") and child.type in ("variable", "splat_variable") or _is_splat(script, child):
            out.append(Element("splat", text.lstrip("@"), child))
        else:
            out.append(Element("argument", text, child))
    return out


def _is_splat(script: Script, node: Node) -> bool:
    leaf = node
    while leaf.child_count == 1:
        leaf = leaf.children[0]
    return leaf.type in ("variable", "splat_variable") and script.text(leaf).startswith("@")


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def hashtable_keys(script: Script, variable: str) -> set[str] | None:
    """The keys a script gives the hashtable in ``$variable``: from ``$v = @{...}`` (also
    ``[ordered]@{...}``), ``$v.Key = ...``, ``$v['Key'] = ...`` and ``$v.Add('Key', ...)``.
    None when the script fills it in a way that cannot be read here (a loop over other data)."""
    want = variable.lower()
    keys: set[str] = set()
    literal = False
    dynamic = False
    for node in walk(script.root):
        if node.type == "assignment_expression":
            left = node.children[0]
            target = _assigned_variable(script, left)
            if target == want:
                outer = next((n for n in walk(node.children[-1]) if n.type == "hash_literal_expression"), None)
                if outer is not None:
                    literal = True
                    body = next((c for c in outer.children if c.type == "hash_literal_body"), None)
                    for entry in body.children if body is not None else []:
                        if entry.type == "hash_entry":
                            keys.add(_unquote(script.text(entry.children[0]).strip()))
            member = _member_target(script, left)
            if member and member[0] == want:
                if member[1] is None:
                    dynamic = True
                else:
                    keys.add(member[1])
        elif node.type == "invokation_expression":
            text = script.text(node)
            match = re.match(r"\$(\w+)\.Add\(\s*['\"]([^'\"]+)['\"]", text, re.I)
            if match and match.group(1).lower() == want:
                keys.add(match.group(2))
    if dynamic or not (literal or keys):
        return None
    return keys


def _assigned_variable(script: Script, left: Node) -> str | None:
    leaf = left
    while leaf.child_count == 1:
        leaf = leaf.children[0]
    if leaf.type == "variable":
        return script.text(leaf).lstrip("$").lower()
    return None


def _member_target(script: Script, left: Node) -> tuple[str, str | None] | None:
    """``$v.Key`` -> (v, Key); ``$v['Key']`` -> (v, Key); ``$v[$name]`` -> (v, None)."""
    node = left
    while node.child_count == 1:
        node = node.children[0]
    if node.type == "member_access" and node.children and node.children[0].type == "variable":
        name = next((c for c in node.children if c.type == "member_name"), None)
        if name is None:
            return None
        return script.text(node.children[0]).lstrip("$").lower(), script.text(name)
    if node.type == "element_access" and node.children and node.children[0].type == "variable":
        inner = script.text(node).split("[", 1)[1].rsplit("]", 1)[0].strip()
        key = _unquote(inner) if inner[:1] in "'\"" else None
        return script.text(node.children[0]).lstrip("$").lower(), key
    return None
