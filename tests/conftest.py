"""Shared fixtures: isolated state/config folders, a fake clock, a fresh lab."""

from __future__ import annotations

import pytest

from hcitui.lab import Lab
from support import FakeClock


@pytest.fixture(autouse=True)
def isolated_state(tmp_path, monkeypatch):
    """Every test gets its own state and config folders, and no password in the environment."""
    state = tmp_path / "xdg-state"
    config = tmp_path / "xdg-config"
    state.mkdir()
    config.mkdir()
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.delenv("HCITUI_PASSWORD", raising=False)
    return state


@pytest.fixture
def state_home(isolated_state):
    """Where hcitui keeps its state in this test (platformdirs: $XDG_STATE_HOME/hcitui)."""
    return isolated_state / "hcitui"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def lab(clock) -> Lab:
    return Lab.create(4, clock=clock)
