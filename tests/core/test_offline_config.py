"""The fast offline update's config: update packages on this machine, each a .msu/.cab naming its KB."""

from __future__ import annotations

import pytest

from hcitui.core.config import ClusterConfig, update_kb


def cluster(**extra):
    return ClusterConfig.model_validate({"name": "HCI01", "nodes": ["HCI-A1"], **extra})


def test_packages_must_exist_be_msu_or_cab_and_carry_a_kb(tmp_path):
    good = tmp_path / "windows10.0-kb5048654-x64.msu"
    good.write_bytes(b"x")
    config = cluster(update_packages=[str(good)])
    assert config.update_packages == [good] and config.update_staging_path == "C:\\SetupFiles\\Updates"
    assert update_kb(good.name) == "KB5048654"
    for name, words in [("missing.msu", "not an existing file"), ("kb5048654.zip", "not a .msu or .cab"),
                        ("update.cab", "carries no KB number")]:
        path = tmp_path / name
        if words != "not an existing file":
            path.write_bytes(b"x")
        with pytest.raises(ValueError, match=words):
            cluster(update_packages=[str(path)])
    with pytest.raises(ValueError, match="absolute Windows path"):
        cluster(update_staging_path="updates")
