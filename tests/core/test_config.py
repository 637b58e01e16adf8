"""Configuration: the example, one sentence per problem with its field path, passwords."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from hcitui.core.config import (
    EXAMPLE,
    Config,
    ConfigError,
    TransportConfig,
    check_node_name,
    default_config_path,
    load_config,
    parse_config,
    state_dir,
)

BASE = """
[[clusters]]
name = "HCI-STRETCH01"
{cluster_extra}
{nodes}
{transport}
"""


def toml(nodes: str = '[[clusters.nodes]]\nname = "HCI-A1"\n', cluster_extra: str = "", transport: str = "") -> str:
    return BASE.format(nodes=nodes, cluster_extra=cluster_extra, transport=transport)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "hci.toml")
    assert info.value.problems, "a ConfigError must say what is wrong"
    for problem in info.value.problems:
        assert problem.startswith("hci.toml: ")
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def one_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------- valid configs


def test_example_parses():
    config = parse_config(EXAMPLE)
    assert isinstance(config, Config)
    cluster = config.cluster(None)
    assert cluster.name == "HCI-STRETCH01"
    assert [n.name for n in cluster.nodes] == ["HCI-A1", "HCI-A2", "HCI-B1", "HCI-B2"]
    assert cluster.sites == ["SiteA", "SiteB"]
    assert cluster.iso_path == "C:\\ISO\\AzureLocal-2509-25398.iso"
    assert cluster.transport.auth == "negotiate"
    assert cluster.transport.effective_port == 5986
    b1, b2 = cluster.nodes[2], cluster.nodes[3]
    assert b1.endpoint(cluster.transport) == ("10.20.0.11", 5986)
    assert b2.endpoint(cluster.transport) == ("hci-b2.site-b.contoso.com", 5986)
    assert cluster.nodes[0].endpoint(cluster.transport) == ("HCI-A1", 5986)


def test_nodes_as_plain_strings():
    config = parse_config('[[clusters]]\nname = "C1"\nnodes = ["N1", "N2", "n3.example.com"]\n')
    assert [n.name for n in config.clusters[0].nodes] == ["N1", "N2", "n3.example.com"]
    assert config.clusters[0].nodes[0].site is None


def test_http_default_port():
    config = parse_config(toml(transport='[clusters.transport]\nscheme = "http"\n'))
    assert config.clusters[0].transport.effective_port == 5985


def test_config_cluster_selection():
    text = '[[clusters]]\nname = "C1"\nnodes = ["N1"]\n[[clusters]]\nname = "C2"\nnodes = ["N2"]\n'
    config = parse_config(text)
    with pytest.raises(ConfigError) as info:
        config.cluster(None)
    assert "--cluster" in str(info.value) and "C1" in str(info.value) and "C2" in str(info.value)
    assert config.cluster("c2").name == "C2"
    with pytest.raises(ConfigError, match="no cluster named 'C3'"):
        config.cluster("C3")


# ------------------------------------------------------------------- problems


def test_injected_node_name_names_the_field():
    text = toml(nodes="[[clusters.nodes]]\nname = 'LAB-A1; Remove-Item C:\\ -Recurse'\n")
    problem = one_problem(text)
    assert re.search(r"clusters\[0\]( \([^)]*\))?\.nodes\[0\]", problem), problem
    assert "not a valid host name" in problem
    assert "\n" not in problem


def test_password_key_is_refused_with_the_reason():
    problem = one_problem(toml(transport='[clusters.transport]\npassword = "x"\n'))
    assert "transport.password" in problem
    assert "passwords are never stored" in problem
    problem = one_problem('password = "x"\n' + toml())
    assert "passwords are never stored" in problem


def test_unknown_keys():
    problem = one_problem(toml(cluster_extra="concurrencyy = 4"))
    assert "concurrencyy" in problem and "not a setting hcitui knows" in problem
    problem = one_problem(toml(nodes='[[clusters.nodes]]\nname = "HCI-A1"\nsight = "SiteA"\n'))
    assert re.search(r"nodes\[0\]( \(HCI-A1\))?\.sight", problem), problem


def test_bad_toml():
    problem = one_problem("[[clusters]\nname = ")
    assert "not valid TOML" in problem


def test_missing_required():
    problem = one_problem('[[clusters]]\nname = "C1"\n')
    assert "nodes" in problem and "is required" in problem
    problem = one_problem("")
    assert "clusters" in problem and "is required" in problem


def test_duplicate_node_names():
    text = toml(nodes='[[clusters.nodes]]\nname = "HCI-A1"\n[[clusters.nodes]]\nname = "hci-a1"\n')
    problem = one_problem(text)
    assert "listed twice" in problem
    assert "clusters[0]" in problem


def test_duplicate_cluster_names():
    text = '[[clusters]]\nname = "C1"\nnodes = ["N1"]\n[[clusters]]\nname = "c1"\nnodes = ["N2"]\n'
    assert "same name" in one_problem(text)


def test_netbios_limit():
    problem = one_problem(toml(nodes='[[clusters.nodes]]\nname = "HCI-NODE-A1-0123"\n'))
    assert "15 characters" in problem
    assert "nodes[0]" in problem
    # a fully qualified name may be longer
    parse_config(toml(nodes='[[clusters.nodes]]\nname = "hci-node-a1-0123.contoso.com"\n'))


@pytest.mark.parametrize("address", ["10.0.0.1:99999", "10.0.0.1:0", "host:abc", "host:", "300.1.1.1", "bad_host"])
def test_bad_addresses(address):
    problem = one_problem(toml(nodes=f'[[clusters.nodes]]\nname = "HCI-A1"\naddress = "{address}"\n'))
    assert "address" in problem
    assert "nodes[0]" in problem


def test_good_address_with_port():
    config = parse_config(toml(nodes='[[clusters.nodes]]\nname = "HCI-A1"\naddress = "10.0.0.5:15986"\n'))
    cluster = config.clusters[0]
    assert cluster.nodes[0].endpoint(cluster.transport) == ("10.0.0.5", 15986)


def test_insecure_and_ca_file_conflict(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    problem = one_problem(toml(transport=f"[clusters.transport]\ninsecure = true\nca_file = '{ca}'\n"))
    assert "contradict" in problem
    assert "transport" in problem


def test_ca_file_must_exist(tmp_path):
    missing = tmp_path / "nope.pem"
    problem = one_problem(toml(transport=f"[clusters.transport]\nca_file = '{missing}'\n"))
    assert "does not exist" in problem
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    config = parse_config(toml(transport=f"[clusters.transport]\nca_file = '{ca}'\n"))
    assert config.clusters[0].transport.ca_file == Path(ca)


@pytest.mark.parametrize("path", ["/srv/iso/x.iso", "ISO\\x.iso", "C:relative.iso", "C:\\ISO\\bad|name.iso"])
def test_iso_path_must_be_absolute_windows_path(path):
    problem = one_problem(toml(cluster_extra=f"iso_path = '{path}'"))
    assert "iso_path" in problem
    assert "Windows" in problem


def test_unc_iso_path_is_fine():
    config = parse_config(toml(cluster_extra="iso_path = '\\\\fs01\\share\\AzureLocal.iso'"))
    assert config.clusters[0].iso_path == "\\\\fs01\\share\\AzureLocal.iso"


def test_transport_coherence():
    assert "in the clear" in one_problem(
        toml(transport='[clusters.transport]\nscheme = "http"\nauth = "basic"\nusername = "u"\n'))
    assert "needs a username" in one_problem(toml(transport='[clusters.transport]\nauth = "ntlm"\n'))
    assert "certificate_pem" in one_problem(toml(transport='[clusters.transport]\nauth = "certificate"\n'))


def test_several_problems_one_line_each():
    text = toml(
        nodes='[[clusters.nodes]]\nname = "bad name"\n[[clusters.nodes]]\nname = "HCI-A2"\naddress = "h:0"\n',
        cluster_extra="concurrency = 0",
    )
    found = problems(text)
    assert len(found) == 3
    assert all("\n" not in p for p in found)


def test_problem_stays_on_one_line_whatever_the_name():
    problem = one_problem(toml(nodes='[[clusters.nodes]]\nname = "HCI-A1\\nhcitui: all good \\u001b[2J"\n'))
    assert "\n" not in problem
    assert "\x1b" not in problem


# ------------------------------------------------------------------- loading


def test_load_config_missing_and_folder(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)
    path = tmp_path / "hci.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert load_config(path).clusters[0].name == "HCI-STRETCH01"


def test_locations_honour_xdg(isolated_state):
    assert default_config_path().is_relative_to(Path(str(isolated_state)).parent / "xdg-config")
    assert state_dir() == isolated_state / "hcitui"


# ------------------------------------------------------------------ passwords


def test_password_environment_wins():
    transport = TransportConfig(password_command="false")
    assert transport.password(environ={"HCITUI_PASSWORD": "from-env"}) == "from-env"


def test_password_none_when_nothing_set():
    assert TransportConfig().password(environ={}) is None


def test_password_from_process_environment(monkeypatch):
    monkeypatch.setenv("HCITUI_PASSWORD", "env-secret")
    assert TransportConfig().password() == "env-secret"


def test_password_command_printf():
    assert TransportConfig(password_command="printf secret").password(environ={}) == "secret"


def test_password_command_python():
    command = f"'{sys.executable}' -c 'print(\"s3 cr3t\")'"
    assert TransportConfig(password_command=command).password(environ={}) == "s3 cr3t"


def test_password_command_fails():
    with pytest.raises(ConfigError) as info:
        TransportConfig(password_command="false").password(environ={})
    assert info.value.problems == ["transport.password_command exited with status 1"]


def test_password_command_missing_program(tmp_path):
    with pytest.raises(ConfigError, match="could not run"):
        TransportConfig(password_command=str(tmp_path / "no-such-program")).password(environ={})


def test_password_command_prints_nothing():
    with pytest.raises(ConfigError, match="printed nothing"):
        TransportConfig(password_command="true").password(environ={})


# ------------------------------------------------------------- the CAU coordinator


def coordinator(body: str, transport: str = "") -> str:
    return toml(transport=transport) + "\n[clusters.coordinator]\n" + body + "\n"


def test_the_example_shows_the_coordinator_commented():
    assert "# [clusters.coordinator]" in EXAMPLE
    assert parse_config(EXAMPLE).cluster(None).coordinator is None  # commented: not set
    lines = EXAMPLE.splitlines()
    start = lines.index("# [clusters.coordinator]")
    uncommented = lines[:start] + [line[2:] if line.startswith("# ") else line for line in lines[start:]]
    cluster = parse_config("\n".join(uncommented)).cluster(None)
    assert cluster.coordinator.host == "HCI-MGMT01.contoso.com"
    transport = cluster.coordinator_transport()
    assert transport.auth == "credssp" and transport.username == "CONTOSO\\hciadmin"
    assert cluster.coordinator.endpoint(transport) == ("10.20.0.5", 5986)


def test_a_coordinator_inherits_the_transport_and_overrides_it():
    cluster = parse_config(coordinator('host = "MGMT01"\nauth = "kerberos"\nport = 15986',
                                       '[clusters.transport]\nusername = "CONTOSO\\\\ops"\n')).cluster(None)
    transport = cluster.coordinator_transport()
    assert (transport.auth, transport.username, transport.scheme) == ("kerberos", "CONTOSO\\ops", "https")
    assert cluster.transport.auth == "negotiate"  # the nodes keep theirs
    assert cluster.coordinator.endpoint(transport) == ("MGMT01", 15986)
    inherited = parse_config(coordinator('host = "mgmt01.contoso.com"',
                                         '[clusters.transport]\nauth = "credssp"\nusername = "u"\n')).cluster(None)
    assert inherited.coordinator_transport().auth == "credssp"
    assert parse_config(toml()).cluster(None).coordinator is None  # optional


@pytest.mark.parametrize("host", ["MGMT01; Remove-Item C:\\ -Recurse", "mgmt$(whoami)", "-MGMT01",
                                  "MGMT-SERVER-0123456"])
def test_a_bad_coordinator_host_is_one_line_naming_the_field(host):
    problem = one_problem(coordinator(f"host = '{host}'\nauth = 'kerberos'"))
    assert re.search(r"clusters\[0\]( \([^)]*\))?\.coordinator\.host: ", problem), problem
    assert "\n" not in problem


def test_a_coordinator_needs_its_host():
    problem = one_problem(coordinator('auth = "kerberos"'))
    assert re.search(r"coordinator\.host: is required$", problem), problem


def test_a_coordinator_auth_must_pass_the_credentials_on():
    problem = one_problem(coordinator('host = "MGMT01"\nauth = "negotiate"'))
    assert "coordinator.auth" in problem and "double hop" in problem and "'credssp' or 'kerberos'" in problem
    # Not set: the cluster's auth (negotiate by default) applies, and is refused the same way.
    problem = one_problem(coordinator('host = "MGMT01"'))
    assert "coordinator.auth" in problem and "double hop" in problem and "transport.auth applies" in problem
    problem = one_problem(coordinator('host = "MGMT01"\nauth = "credssp"'))  # CredSSP needs an account
    assert "coordinator" in problem and "needs a username" in problem


def test_a_coordinator_is_not_a_node():
    problem = one_problem(coordinator('host = "hci-a1.contoso.com"\nauth = "kerberos"'))
    assert "coordinator.host 'hci-a1.contoso.com' is a node of this cluster" in problem


# ------------------------------------------------------------------ audit rotation


def test_audit_rotation_defaults_and_settings():
    cluster = parse_config(toml()).cluster(None)
    assert (cluster.audit_max_mb, cluster.audit_keep, cluster.audit_max_bytes) == (10, 5, 10 * 1024 * 1024)
    small = parse_config(toml(cluster_extra="audit_max_mb = 0.5\naudit_keep = 2")).cluster(None)
    assert (small.audit_max_bytes, small.audit_keep) == (512 * 1024, 2)
    assert parse_config(EXAMPLE).cluster(None).audit_max_mb == 10  # the example shows them


@pytest.mark.parametrize("setting, field", [("audit_max_mb = 0", "audit_max_mb"),
                                            ("audit_max_mb = 'big'", "audit_max_mb"),
                                            ("audit_keep = 0", "audit_keep"), ("audit_keep = 1.5", "audit_keep")])
def test_audit_rotation_bad_values_are_one_line_naming_the_field(setting, field):
    problem = one_problem(toml(cluster_extra=setting))
    assert problem.startswith(f"hci.toml: clusters[0] (HCI-STRETCH01).{field}: "), problem


# ------------------------------------------------- a node name from outside a config


@pytest.mark.parametrize("name", ["HCI-A1", "n1", "LAB-B2", "hci-a1.contoso.com", "A" * 15, "a" * 63 + ".example"])
def test_check_node_name_accepts_what_a_config_accepts(name):
    assert check_node_name(name) == name
    assert parse_config(toml(nodes=f"[[clusters.nodes]]\nname = '{name}'\n")).clusters[0].nodes[0].name == name


def test_check_node_name_strips_surrounding_blanks():
    assert check_node_name("  HCI-A1 ") == "HCI-A1"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "is not a valid host name"),
        ("   ", "is not a valid host name"),
        ("HCI A1", "is not a valid host name"),
        ("-HCI", "is not a valid host name"),
        ("HCI-", "is not a valid host name"),
        ("a..b", "is not a valid host name"),
        ("N1;Stop-Computer", "is not a valid host name"),
        ("12345", "all digits"),
        ("A" * 16, "longer than 15 characters, the NetBIOS limit"),
        ("a" * 64 + ".example", "is not a valid host name"),
        ("x.y" * 100, "is not a valid host name"),  # over 253 characters
    ],
)
def test_check_node_name_refuses_with_one_sentence(name, says):
    with pytest.raises(ConfigError) as caught:
        check_node_name(name)
    assert len(caught.value.problems) == 1
    assert says in caught.value.sentence and "\n" not in caught.value.sentence
    # the same name in a config is refused for the same reason
    assert says in one_problem(toml(nodes=f"[[clusters.nodes]]\nname = '{name}'\n"))


def test_check_node_name_refuses_what_is_not_text():
    with pytest.raises(ConfigError) as caught:
        check_node_name(None)  # type: ignore[arg-type]
    assert "is not a node name" in caught.value.sentence

