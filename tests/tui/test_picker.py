"""Several clusters in one config: a picker before the console; `hcitui monitor` and its options."""

from __future__ import annotations

import pytest

from hcitui.cli import context as wiring
from hcitui.cli import main as cli
from hcitui.core.config import parse_config
from hcitui.tui import app as app_mod
from hcitui.tui import picker as picker_mod
from hcitui.tui.picker import ClusterPicker
from hcitui.tui.screens.monitor import MonitorScreen
from support import lab_in_process as in_process


def config_text(names: list[str]) -> str:
    parts = []
    for index, name in enumerate(names):
        parts.append(f'[[clusters]]\nname = "{name}"\n[[clusters.nodes]]\nname = "N{index}A"\nsite = "S1"\n'
                     f'[[clusters.nodes]]\nname = "N{index}B"\nsite = "S2"\n[clusters.transport]\nauth = "negotiate"\n')
    return "\n".join(parts)


def clusters(names):
    return parse_config(config_text(names)).clusters


async def test_picker_digit_chooses_at_once():
    app = ClusterPicker(clusters(["HCI-ONE", "HCI-TWO", "HCI-THREE"]))
    async with app.run_test(size=(80, 24)) as pilot:
        items = app.query_one("#picker-items").content.plain
        assert " 1) HCI-ONE" in items and " 3) HCI-THREE" in items and "2 nodes, S1, S2" in items
        await pilot.press("2")
        await pilot.pause()
    assert app.return_value == "HCI-TWO"


async def test_picker_ambiguous_number_waits_for_enter_and_arrows_work():
    names = [f"HCI-{i:02d}" for i in range(1, 13)]
    app = ClusterPicker(clusters(names))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("1")  # 1, 10, 11, 12 start with it
        await pilot.pause()
        assert app.is_running
        await pilot.press("enter")
        await pilot.pause()
    assert app.return_value == "HCI-01"

    app = ClusterPicker(clusters(names))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "down", "enter")
        await pilot.pause()
    assert app.return_value == "HCI-03"


async def test_picker_quit_chooses_nothing():
    app = ClusterPicker(clusters(["HCI-ONE", "HCI-TWO"]))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value is None


def test_console_with_several_clusters_asks_which(monkeypatch, tmp_path, capsys):
    path = tmp_path / "hci.toml"
    path.write_text(config_text(["HCI-ONE", "HCI-TWO"]))
    asked = []

    def pick(found, read_only=False):
        asked.append([c.name for c in found])
        return "HCI-TWO"

    monkeypatch.setattr(picker_mod, "pick_cluster", pick)
    opened = {}

    def fake_context(cluster, **kwargs):
        opened["cluster"] = cluster.name
        raise SystemExit(0)  # stop before any session: the choice is what is tested

    monkeypatch.setattr(wiring, "context_for_config", fake_context)
    with pytest.raises(SystemExit):
        cli.main(["--config", str(path)])
    assert asked == [["HCI-ONE", "HCI-TWO"]] and opened["cluster"] == "HCI-TWO"

    monkeypatch.setattr(picker_mod, "pick_cluster", lambda found, read_only=False: None)
    assert cli.main(["--config", str(path)]) == 0
    assert "no cluster chosen" in capsys.readouterr().err


def test_headless_steps_still_require_cluster(monkeypatch, tmp_path, capsys):
    path = tmp_path / "hci.toml"
    path.write_text(config_text(["HCI-ONE", "HCI-TWO"]))
    monkeypatch.setattr(picker_mod, "pick_cluster", lambda *a, **k: pytest.fail("no picker for a headless step"))
    assert cli.main(["--config", str(path), "verify"]) == 2
    assert "--cluster NAME" in capsys.readouterr().err


@pytest.fixture
def lab_in_process(monkeypatch):
    in_process(monkeypatch)


def test_monitor_command_opens_read_only_on_the_monitor(monkeypatch, lab_in_process):
    seen = {}

    def fake_run(ctx, start=None):
        seen["read_only"] = ctx.read_only
        seen["screen"] = start()
        return 0

    monkeypatch.setattr(app_mod, "run_app", fake_run)
    assert cli.main(["--lab", "monitor", "--interval", "2"]) == 0
    assert seen["read_only"] is True
    assert isinstance(seen["screen"], MonitorScreen) and seen["screen"]._interval == 2
    assert cli.main(["monitor", "--lab", "--live"]) == 0
    assert seen["read_only"] is False


def test_monitor_interval_out_of_range_is_a_usage_error(capsys):
    assert cli.main(["--lab", "monitor", "--interval", "0.5"]) == 2
    assert "--interval" in capsys.readouterr().err


def test_monitor_interval_in_config_is_validated(tmp_path, capsys):
    path = tmp_path / "hci.toml"
    path.write_text(config_text(["HCI-ONE"]).replace('name = "HCI-ONE"', 'name = "HCI-ONE"\nmonitor_interval = 0'))
    assert cli.main(["config", "check", str(path)]) == 2
    assert "monitor_interval" in capsys.readouterr().err
