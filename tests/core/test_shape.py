"""The shape of core/: it stands alone (imports no other hcitui package), no module grows past 600 lines,
and the model package answers every name its domain modules define, as ``model.X``."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import hcitui.core
from hcitui.core import model

CORE = Path(hcitui.core.__file__).parent
MODULES = sorted(CORE.rglob("*.py"))
MAX_LINES = 600


def _imported(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):  # every import, also those inside functions
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            names.append("." * node.level + (node.module or ""))
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_imports_nothing_from_another_hcitui_package(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    outside = [name for name in _imported(tree)
               if (name == "hcitui" or name.startswith("hcitui.")) and not
               (name == "hcitui.core" or name.startswith("hcitui.core."))]
    assert not outside, f"{path.name} imports {outside}: core/ is the layer everything else stands on"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(CORE)))
def test_no_core_module_is_over_600_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(CORE)} has {lines} lines"


def test_the_probe_sees_a_foreign_import():
    """The layering test above can fail: an import of another package, even inside a function, is seen."""
    tree = ast.parse("def f():\n    from hcitui.workflow import cau\nimport hcitui.core.units\n")
    assert sorted(_imported(tree)) == ["hcitui.core.units", "hcitui.workflow"]


def _domain_modules():
    return [importlib.import_module(info.name)
            for info in pkgutil.iter_modules(model.__path__, model.__name__ + ".")]


def test_the_model_is_split_by_domain():
    names = {module.__name__.rsplit(".", 1)[1] for module in _domain_modules()}
    assert {"base", "cluster", "storage", "sr", "cau", "upgrade"} <= names


def test_every_public_name_of_the_model_is_model_dot_name():
    defined = {}
    for module in _domain_modules():
        imported = {alias.asname or alias.name for node in ast.parse(Path(module.__file__).read_text()).body
                    if isinstance(node, ast.ImportFrom | ast.Import) for alias in node.names}
        for name, value in vars(module).items():
            if (name.startswith("_") or name in imported
                    or getattr(value, "__module__", module.__name__) != module.__name__):
                continue  # private, or imported into that module from elsewhere
            if module.__name__.endswith(".base") and name in ("E",):
                continue  # a type variable, not a domain name
            if isinstance(value, type(importlib)) or name == "annotations":
                continue
            defined[name] = value
    assert defined, "no domain module found"
    for name, value in defined.items():
        assert getattr(model, name, None) is value, f"model.{name} is missing or is a second copy"
    assert set(model.__all__) >= set(defined)
    assert all(hasattr(model, name) for name in model.__all__)


def test_each_name_is_defined_once():
    """A re-export, never a second copy: no class or function of the model is defined in two modules."""
    seen: dict[str, str] = {}
    for module in _domain_modules():
        for node in ast.parse(Path(module.__file__).read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                assert node.name not in seen, f"{node.name} in {seen.get(node.name)} and {module.__name__}"
                seen[node.name] = module.__name__
    assert "ClusterNode" in seen and "OsUpgradeStatus" in seen and "SRGroup" in seen


def test_the_audit_log_lives_apart_from_the_journal():
    from hcitui.core import audit, journal

    assert not hasattr(journal, "AuditLog")
    assert audit.AuditLog.__module__ == "hcitui.core.audit"
