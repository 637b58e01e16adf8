"""The shape of the whole package, as the README draws it: the import contracts in pyproject.toml hold
(imports point one way, Textual only in the console, the lab only behind the command line's context),
and no module outside the lab grows past 600 lines. CI also runs ``lint-imports`` itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import hcitui

PACKAGE = Path(hcitui.__file__).parent
PROJECT = PACKAGE.parent
MAX_LINES = 600


def test_no_module_outside_the_lab_is_over_600_lines():
    long = {str(path.relative_to(PROJECT)): n for path in PACKAGE.rglob("*.py")
            if "lab" not in path.relative_to(PACKAGE).parts[:1]
            and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"split these by concern: {long}"


def test_the_import_contracts_hold():
    probe = ("import sys; from importlinter.cli import lint_imports; "
             "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
