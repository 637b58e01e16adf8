"""The one-site lab (``--lab-sites 1``): LAB-SINGLE, LAB-N1..LAB-Nn in one site, one pool, no Storage
Replica: its SR reads answer an empty list, as on a real cluster that is not stretched, and no node reports
a Site fault domain. The two-site lab stays as it was."""

from __future__ import annotations

import json

import pytest

from hcitui.cli import context as wiring
from hcitui.core.config import ConfigError, parse_config
from hcitui.lab import Lab, build_lab, node_names
from hcitui.lab.serve import lab_cluster_config


def test_node_names_of_one_site_take_any_count_from_2_to_16():
    assert node_names(3, sites=1) == ["LAB-N1", "LAB-N2", "LAB-N3"]
    assert len(node_names(16, sites=1)) == 16
    for count in (0, 1, 17):
        with pytest.raises(ValueError):
            node_names(count, sites=1)
    with pytest.raises(ValueError):
        node_names(4, sites=3)
    assert node_names(4) == ["LAB-A1", "LAB-A2", "LAB-B1", "LAB-B2"]  # two sites: as before


def test_the_one_site_lab_has_one_site_one_pool_and_no_storage_replica():
    state = build_lab(5, sites=1)
    assert state.cluster_name == "LAB-SINGLE"
    assert list(state.nodes) == ["LAB-N1", "LAB-N2", "LAB-N3", "LAB-N4", "LAB-N5"]
    assert len({n.site for n in state.nodes.values()}) == 1
    assert len(state.pools) == 1
    assert state.sr_groups == [] and state.partnerships == []
    assert not state.stretched
    assert any(g.name == "Cloud Management" for g in state.groups)
    assert build_lab(4).stretched and build_lab(4).cluster_name == "LAB-STRETCH"


def test_sr_reads_answer_an_empty_list_and_no_node_has_a_site_fault_domain(clock):
    lab = Lab(build_lab(4, now=clock(), sites=1), clock=clock)
    assert json.loads(lab.execute("LAB-N1", "get_sr_groups", {})) == []
    assert json.loads(lab.execute("LAB-N2", "get_sr_partnerships", {})) == []
    nodes = json.loads(lab.execute("LAB-N1", "get_cluster_nodes", {}))
    assert [n["Name"] for n in nodes] == ["LAB-N1", "LAB-N2", "LAB-N3", "LAB-N4"]
    assert all(n["FaultDomain"] == [] for n in nodes)
    assert len(json.loads(lab.execute("LAB-N1", "get_storage_pools", {}))) == 1
    stretched = Lab(build_lab(4, now=clock()), clock=clock)
    assert {n["FaultDomain"][0] for n in json.loads(stretched.execute("LAB-A1", "get_cluster_nodes", {}))} == {
        "Site:SiteA", "Site:SiteB"}


def test_one_site_and_two_site_labs_keep_their_own_files(tmp_path):
    single = wiring.open_lab(tmp_path, 3, sites=1)
    stretched = wiring.open_lab(tmp_path, 4)
    assert single.path != stretched.path
    assert single.path.name == "LAB-SINGLE.json" and stretched.path.name == "LAB-STRETCH.json"
    again = wiring.open_lab(tmp_path, 3, sites=1)
    assert list(again.state.nodes) == ["LAB-N1", "LAB-N2", "LAB-N3"] and not again.state.stretched
    assert wiring.lab_cluster_nodes(tmp_path, 1)[0] == "LAB-SINGLE"


def test_lab_sizes_refused_in_one_sentence(tmp_path):
    with pytest.raises(ConfigError, match="--lab-nodes 1"):
        wiring.open_lab(tmp_path, 1, sites=1)
    with pytest.raises(ConfigError, match="--lab-nodes 3"):
        wiring.open_lab(tmp_path, 3)
    with pytest.raises(ConfigError, match="--lab-sites 3"):
        wiring.open_lab(tmp_path, 4, sites=3)


def test_reset_records_of_either_lab_and_no_other(tmp_path):
    assert "LAB-SINGLE" in wiring.reset_lab_records(tmp_path, "LAB-SINGLE")
    with pytest.raises(ValueError):
        wiring.reset_lab_records(tmp_path, "HCI-PROD")


def test_the_one_site_lab_as_a_config_names_no_site(tmp_path):
    lab = wiring.open_lab(tmp_path, 2, sites=1)
    cluster = lab_cluster_config(lab)
    assert cluster.name == "LAB-SINGLE"
    assert [n.site for n in cluster.nodes] == [None, None] and cluster.sites == []
    assert lab_cluster_config(wiring.open_lab(tmp_path, 2)).sites == ["SiteA", "SiteB"]


def test_served_config_of_the_one_site_lab_parses_without_sites(tmp_path):
    lab = wiring.open_lab(tmp_path, 2, sites=1)
    served = wiring.serve_lab(lab, tmp_path, coordinator=False)
    try:
        text = wiring.served_config_text(served)
    finally:
        served.stop()
    assert "site =" not in text
    cluster = parse_config(text, "test").cluster(None)
    assert cluster.name == "LAB-SINGLE" and [n.name for n in cluster.nodes] == ["LAB-N1", "LAB-N2"]
