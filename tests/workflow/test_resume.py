"""The re-verifier registry (workflow/resume.py): an explicit list by phase, every listed step registered
by the module it names, nothing registered that is not listed, no import error swallowed."""

from __future__ import annotations

import pytest

from hcitui.workflow import resume


def test_every_listed_step_is_registered_by_its_module():
    registered = resume.reverifiers()
    listed = {step: module for steps in resume.REVERIFIABLE.values() for step, module in steps.items()}
    assert set(listed) <= set(registered)
    for step, module in listed.items():
        assert registered[step].__module__.startswith(module), (step, registered[step].__module__)


def test_the_list_is_by_phase_and_matches_the_journal_phases():
    from hcitui.workflow import maintenance

    phase_of = {step: phase for phase, steps in resume.REVERIFIABLE.items() for step in steps}
    assert phase_of["drain"] == phase_of["restart"] == phase_of["rolling-restart"] == maintenance.PHASE
    assert phase_of["manual-upgrade"] == maintenance.UPGRADE_KIND.phase
    assert phase_of["verification"] == 7
    assert all(phase in resume.PHASES for phase in resume.REVERIFIABLE)


def test_an_unlisted_step_cannot_register():
    with pytest.raises(ValueError, match="not listed"):
        resume.register("no-such-step")


def test_a_module_that_cannot_load_fails_loudly(monkeypatch):
    monkeypatch.setattr(resume, "_loaded", False)
    monkeypatch.setitem(resume.REVERIFIABLE, 99, {"ghost": "hcitui.workflow.no_such_module"})
    monkeypatch.setitem(resume._DECLARED, "ghost", "hcitui.workflow.no_such_module")
    with pytest.raises(ModuleNotFoundError):
        resume.reverifiers()


def test_a_listed_step_left_unregistered_is_an_error(monkeypatch):
    monkeypatch.setattr(resume, "_loaded", False)
    monkeypatch.setitem(resume._DECLARED, "ghost", "hcitui.workflow.verify")
    with pytest.raises(RuntimeError, match="ghost"):
        resume.reverifiers()
