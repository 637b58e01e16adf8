"""The lab's PowerShell front door: a script is held to what Windows PowerShell 5.1 on a node accepts.

Before the lab answers a script it receives, the front door reads it the way a node would and
refuses, in PowerShell's own words, what a node would refuse:

- a syntax error ("Unexpected token ...", "Missing closing '}' ...");
- PowerShell 7-only syntax: ``&&`` and ``||`` ("not a valid statement separator in this version"),
  ``??``, ``?.``, the ternary (unexpected tokens to 5.1); ``-Parallel``, ``-AsHashtable`` and the like
  are unknown parameters of the 5.1 cmdlets, so the catalogue refuses them;
- a drive-qualified variable in a string (``"$Offset: ..."``);
- a command that is not a cmdlet of the catalogue, a function the script defines, or a native
  program the catalogue names ("is not recognized as the name of a cmdlet ...");
- an unknown or ambiguous parameter, ``-Confirm``/``-WhatIf`` on a cmdlet without ShouldProcess, a
  parameter given twice or without its argument, no parameter set that fits, a missing mandatory
  parameter, an argument no position takes; splatted hashtables are bound like named parameters;
- a cmdlet that asks for confirmation, called without what suppresses the question (``-Force``, or
  ``-Confirm:$false`` where the cmdlet supports ShouldProcess): a remote pipeline has nobody to ask.

What it cannot know is said in the README: types of values, what a .NET method does, whether a
property is ``$null`` on a real node, a cmdlet without a reference page (its parameters are taken
on trust, and the catalogue says so).

The wording of each message is PowerShell 5.1's, from its resource strings as they appear in its
error records (ParserStrings, ParameterBinderStrings, DiscoveryExceptions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from hcitui.lab import psparse
from hcitui.lab.catalogue import Catalogue, Cmdlet, Parameter, load

NON_INTERACTIVE = "PowerShell is in NonInteractive mode. Read and Prompt functionality is not available."

# Scopes and the drives of a node's providers that ``$name:`` may name (about_Scopes,
# about_Providers, reference/5.1/Microsoft.PowerShell.Core/About).
_QUALIFIERS = {"global", "local", "script", "private", "using", "workflow", "env", "function", "variable",
               "alias", "hklm", "hkcu", "cert", "wsman"}
_DRIVE_VARIABLE = re.compile(r"(?<!`)\$(?P<name>[A-Za-z_][A-Za-z0-9_?]*):(?P<next>.?)", re.S)
_VARIABLE_CHAR = re.compile(r"[A-Za-z0-9_?{]")
_PS7_OPERATORS = re.compile(r"\?\?=?")


@dataclass
class Refusal(Exception):
    """What PowerShell 5.1 would say instead of running the script."""

    kind: str  # "parse", "not-found", "binding", "prompt"
    error_id: str
    message: str  # the exception's message, PowerShell's wording
    command: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.command} : {self.message}" if self.command else self.message


def check(script: str, catalogue: Catalogue | None = None) -> list[Refusal]:
    """Every refusal the front door finds in ``script`` (empty: a node would accept it)."""
    return list(_check(script, catalogue or load()))


@lru_cache(maxsize=1024)
def _admitted(script: str) -> Refusal | None:
    found = check(script)
    return found[0] if found else None


def admit(script: str) -> None:
    """Raise the first :class:`Refusal` a node would answer ``script`` with; return if none."""
    refusal = _admitted(script)
    if refusal is not None:
        raise replace(refusal)  # a fresh exception each time: the cached one keeps no traceback


# ------------------------------------------------------------------ the rules


def _check(source: str, cat: Catalogue):
    script = psparse.parse(source)
    yield from _syntax(script)
    yield from _strings(script)
    for command in psparse.commands(script):
        yield from _command(script, command, cat)


def _parse_error(script: psparse.Script, node, message: str, error_id: str, width: int | None = None) -> Refusal:
    pos = script.position(node, width)
    text = f"At line:{pos.line} char:{pos.column}\n+ {pos.text}\n+ {' ' * (pos.column - 1)}{'~' * pos.width}\n{message}"
    return Refusal("parse", error_id, text, line=pos.line)


_CLOSERS = {"{": ("}", "Missing closing '}' in statement block or type definition.", "MissingEndCurlyBrace"),
            "(": (")", "Missing closing ')' in expression.", "MissingEndParenthesisInExpression"),
            "@(": (")", "Missing closing ')' in subexpression.", "MissingEndParenthesisInSubexpression"),
            "$(": (")", "Missing closing ')' in subexpression.", "MissingEndParenthesisInSubexpression"),
            "@{": ("}", "Missing closing '}' in statement block or type definition.", "MissingEndCurlyBrace"),
            "[": ("]", "Missing ']' after array index expression.", "MissingEndSquareBracket")}


def _syntax(script: psparse.Script):
    for node in psparse.walk(script.root):
        if node.type == "pipeline_chain_tail":
            op = script.text(node).strip()[:2]
            yield _parse_error(script, node, f"The token '{op}' is not a valid statement separator in this version.",
                               "InvalidEndOfLine", 2)
    broken = list(psparse.errors(script))
    if not broken:
        return
    # An opening bracket never closed: PowerShell names the bracket, at the opening one.
    stack: list = []
    for leaf in psparse.tokens(script):
        text = script.text(leaf)
        if text in _CLOSERS:
            stack.append(leaf)
        elif text in ("}", ")", "]") and stack and _CLOSERS[script.text(stack[-1])][0] == text:
            stack.pop()
    if stack:
        opener = stack[-1]
        _, message, error_id = _CLOSERS[script.text(opener)]
        yield _parse_error(script, opener, message, error_id, 1)
        return
    for node in broken:
        if node.is_missing:
            yield _parse_error(script, node, f"Missing '{node.type}' in expression or statement.", "MissingToken", 1)
            return
    # The innermost error: its first token is the one PowerShell calls unexpected.
    inner = [n for n in broken if not any(d.type == "ERROR" for d in psparse.walk(n) if d is not n)]
    node = min(inner or broken, key=lambda n: (n.end_byte - n.start_byte, n.start_byte))
    text = script.text(node)
    # The token as PowerShell's tokenizer would cut it from the source (`?.Name`, `??`, `?`).
    rest = script.source.encode("utf-8")[node.start_byte:].decode("utf-8", "replace").lstrip()
    match = _PS7_OPERATORS.match(rest) or re.match(r"\?[.\[]?\w*", rest)
    if match and match.group(0):
        token = match.group(0)
    else:
        token = (text.strip().split() or ["?"])[0]
    target = node
    for leaf in psparse.walk(node):
        if leaf.child_count == 0 and script.text(leaf).strip().startswith(token[:1]):
            target = leaf
            break
    yield _parse_error(script, target, f"Unexpected token '{token[:40]}' in expression or statement.",
                       "UnexpectedToken", len(token[:40]))


def _strings(script: psparse.Script):
    for node in psparse.expandable_strings(script):
        text = script.text(node)
        for match in _DRIVE_VARIABLE.finditer(text):
            following = match.group("next")
            if following and _VARIABLE_CHAR.match(following):
                continue  # $env:TEMP, $script:x: a drive- or scope-qualified name
            yield _parse_error(
                script, node,
                "Variable reference is not valid. ':' was not followed by a valid variable name character. "
                "Consider using ${} to delimit the name.", "InvalidVariableReferenceWithDrive",
                len(match.group(0)))


def _not_found(name: str) -> Refusal:
    return Refusal("not-found", "CommandNotFoundException",
                   f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable "
                   "program. Check the spelling of the name, or if a path was included, verify that the path is "
                   "correct and try again.")


def _binding(command: str, error_id: str, message: str) -> Refusal:
    return Refusal("binding", error_id, message, command=command)


def _command(script: psparse.Script, command: psparse.Command, cat: Catalogue):
    name = command.name
    if name is None:
        return  # & $path or & { ... }: what runs is decided at run time
    if name.lower() in script.functions:
        return
    cmdlet = cat.cmdlet(name)
    if cmdlet is None:
        native = name.lower().rsplit("\\", 1)[-1]
        if native in cat.natives:
            return
        yield _not_found(name)
        return
    if not cmdlet.documented:
        return  # no reference page: its parameters cannot be checked here (the catalogue names its source)
    yield from _bind(script, command, cmdlet)


def _resolve(cmdlet: Cmdlet, written: str) -> Parameter | Refusal:
    params = cmdlet.all_parameters()
    want = written.lower()
    for param in params.values():
        if param.name.lower() == want or want in (a.lower() for a in param.aliases):
            return param
    matches = [p for p in params.values() if p.name.lower().startswith(want)]
    matches += [p for p in params.values() if p not in matches and any(a.lower().startswith(want) for a in p.aliases)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = " ".join(f"-{p.name}" for p in matches)
        return _binding(cmdlet.name, "AmbiguousParameter",
                        f"Parameter cannot be processed because the parameter name '{written}' is ambiguous. "
                        f"Possible matches include: {names}.")
    return _binding(cmdlet.name, "NamedParameterNotFound",
                    f"A parameter cannot be found that matches parameter name '{written}'.")


def _bind(script: psparse.Script, command: psparse.Command, cmdlet: Cmdlet):
    bound: dict[str, str | None] = {}  # parameter -> its value's text (None for a bare switch)
    positional: list[str] = []
    elements = list(command.elements)
    i = 0

    def bind(param: Parameter, value: str | None) -> Refusal | None:
        if param.name in bound:
            return _binding(cmdlet.name, "ParameterAlreadyBound",
                            f"Cannot bind parameter because parameter '{param.name}' is specified more than once. "
                            "To provide multiple values to parameters that can accept multiple values, use the "
                            "array syntax. For example, \"-parameter value1,value2,value3\".")
        bound[param.name] = value
        return None

    while i < len(elements):
        element = elements[i]
        i += 1
        if element.kind == "splat":
            keys = psparse.hashtable_keys(script, element.text)
            if keys is None:
                return  # filled from data at run time: bound where that data is written (see the tests)
            for key in sorted(keys):
                param = _resolve(cmdlet, key)
                if isinstance(param, Refusal):
                    yield param
                    return
                if (problem := bind(param, "@")) is not None:
                    yield problem
                    return
            continue
        if element.kind in ("argument", "value"):
            positional.append(element.text)
            continue
        written = element.text.lstrip("-").rstrip(":")
        param = _resolve(cmdlet, written)
        if isinstance(param, Refusal):
            yield param
            return
        value: str | None = None
        if element.colon_value:
            if i < len(elements) and elements[i].kind == "value":
                value = elements[i].text
                i += 1
        elif not param.switch:
            if i < len(elements) and elements[i].kind in ("argument", "value"):
                value = elements[i].text
                i += 1
            else:
                type_name = param.type if "." in param.type else f"System.{param.type or 'Object'}"
                yield _binding(cmdlet.name, "MissingArgument",
                               f"Missing an argument for parameter '{param.name}'. Specify a parameter of type "
                               f"'{type_name}' and try again.")
                return
        if (problem := bind(param, value)) is not None:
            yield problem
            return

    problem = _sets(cmdlet, bound, positional, command.piped)
    if problem is not None:
        yield problem
        return
    if cmdlet.prompts and not _suppressed(cmdlet, bound):
        yield Refusal("prompt", "PromptNotAllowed", NON_INTERACTIVE, command=cmdlet.name)


def _suppressed(cmdlet: Cmdlet, bound: dict[str, str | None]) -> bool:
    """-Force (where the cmdlet's own page says it skips the question) or -Confirm:$false."""
    for name in (cmdlet.prompts or {}).get("suppressed_by", ["Force"]):
        if name == "Confirm":
            if "Confirm" in bound and (bound["Confirm"] or "").strip().lower() in ("$false", "0"):
                return True
        elif name in bound and (bound[name] or "$true").strip().lower() not in ("$false", "0"):
            return True
    return False


def _sets(cmdlet: Cmdlet, bound: dict[str, str | None], positional: list[str], piped: bool) -> Refusal | None:
    sets = cmdlet.sets
    if not sets:
        return None
    common = {p for p in cmdlet.all_parameters() if p not in cmdlet.parameters}
    named = [p for p in bound if p not in common]
    candidates = [s for s, members in sets.items() if all(p in members for p in named)]
    if not candidates:
        return _binding(cmdlet.name, "AmbiguousParameterSet",
                        "Parameter set cannot be resolved using the specified named parameters.")
    failures: dict[str, Refusal] = {}
    for name in candidates:
        members = sets[name]
        free = sorted((p for p, m in members.items() if m.get("position") is not None and p not in bound),
                      key=lambda p: members[p]["position"])
        taken = set(free[: len(positional)])
        if len(positional) > len(free):
            extra = positional[len(free)]
            failures[name] = _binding(cmdlet.name, "PositionalParameterNotFound",
                                      f"A positional parameter cannot be found that accepts argument '{extra}'.")
            continue
        missing = [p for p, m in members.items()
                   if m.get("mandatory") and p not in bound and p not in taken
                   and not (piped and cmdlet.parameters.get(p) and cmdlet.parameters[p].pipeline)]
        if missing:
            failures[name] = _binding(cmdlet.name, "MissingMandatoryParameter",
                                      "Cannot process command because of one or more missing mandatory "
                                      f"parameters: {' '.join(missing)}.")
            continue
        return None
    order = ([cmdlet.default_set] if cmdlet.default_set in failures else []) + list(failures)
    return failures[order[0]]


def check_call(name: str, named: list[str], positional: int = 0, piped: bool = False,
               catalogue: Catalogue | None = None) -> Refusal | None:
    """The refusal a node would answer a single cmdlet call with (a PSRP command that is not a
    script: its name and the names of its parameters), or None."""
    cat = catalogue or load()
    cmdlet = cat.cmdlet(name)
    if cmdlet is None:
        return None if name.lower() in cat.natives else _not_found(name)
    if not cmdlet.documented:
        return None
    bound: dict[str, str | None] = {}
    for written in named:
        param = _resolve(cmdlet, written.lstrip("-"))
        if isinstance(param, Refusal):
            return param
        bound[param.name] = "@"
    problem = _sets(cmdlet, bound, ["?"] * positional, piped)
    if problem is None and cmdlet.prompts and not _suppressed(cmdlet, bound):
        problem = Refusal("prompt", "PromptNotAllowed", NON_INTERACTIVE, command=cmdlet.name)
    return problem


def splat_keys(script: str, variable: str) -> set[str] | None:
    """The keys ``script`` puts in the hashtable ``$variable`` (for a splat whose data travels
    through a file, such as the CAU runner's), or None when they cannot be read statically."""
    return psparse.hashtable_keys(psparse.parse(script), variable)
