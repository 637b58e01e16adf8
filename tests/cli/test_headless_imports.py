"""The headless layers never import Textual: checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]

PROBE = r"""
import importlib, pkgutil, sys
import hcitui

SKIP_PREFIXES = ("hcitui.tui",)  # the one package that may import textual
SKIP_EXACT = {"hcitui.__main__"}  # an entry point: importing it runs the CLI

def skipped(name):
    return name in SKIP_EXACT or any(name == p or name.startswith(p + ".") for p in SKIP_PREFIXES)

imported = []
for info in pkgutil.walk_packages(hcitui.__path__, "hcitui.", onerror=lambda name: None):
    if skipped(info.name):
        continue
    before = "textual" in sys.modules
    importlib.import_module(info.name)
    imported.append(info.name)
    if not before and "textual" in sys.modules:
        print("TEXTUAL IMPORTED BY", info.name)
        sys.exit(3)

expected = {"hcitui.cli.main", "hcitui.core.model", "hcitui.core.config", "hcitui.core.journal", "hcitui.cli.context",
            "hcitui.remote.psrp", "hcitui.lab.cluster", "hcitui.workflow.verify", "hcitui.ps.reads"}
missing = expected - set(imported)
if missing:
    print("NOT IMPORTED:", sorted(missing))
    sys.exit(4)
if "textual" in sys.modules:
    print("TEXTUAL IMPORTED")
    sys.exit(3)
print("OK", len(imported))
"""


def test_headless_modules_do_not_import_textual():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK ")
