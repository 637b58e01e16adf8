"""Solution-upgrade readiness in the lab: the reads (hcitui.ps.readiness) and the remedies (hcitui.ps.remedies).

The state is each node's ``features``, ``optional_features``, ``bitlocker``, ``wdac_enforcement``, language,
``tpm``, ``aks_modules`` and ``moc_services`` (hcitui.lab.state). A feature whose install needs a restart
(``RESTART_FEATURES``) is InstallPending / EnablePending until the node's next boot (hcitui.lab.cluster's
boot-complete timer puts it in force). Installing the Windows feature NetworkATC also enables the optional
feature of the same name, and the other way round, as one component does on a real node.

Test knobs are plain state edits (``node.wdac_enforcement = 2``, ``node.ui_language = "de-DE"``,
``node.aks_modules = ["AksHci", "Moc"]``, ``node.tpm.tpm_ready = False``, ``pool.allocated_size``) and
``Faults.readiness_unreadable`` (a section that fails on a node).
"""

from __future__ import annotations

from typing import Any

from hcitui.core.model.readiness import REQUIRED_OPTIONAL_FEATURES, REQUIRED_WINDOWS_FEATURES
from hcitui.lab.cluster import Lab, LabNode, LabPowerShellError, handles
from hcitui.lab.state import RESTART_FEATURES

# A culture name -> its LCID, for Win32_OperatingSystem.OSLanguage (the lab's languages).
LCIDS = {"en-US": 1033, "en-GB": 2057, "de-DE": 1031, "fr-FR": 1036, "es-ES": 3082, "it-IT": 1040,
         "ja-JP": 1041, "nl-NL": 1043, "pt-BR": 1046, "sv-SE": 1053, "zh-CN": 2052}
AKS_MODULE_VERSIONS = {"AksHci": "1.2.16", "Moc": "1.1.23"}
# What the Windows feature and the optional feature of one component are called (installing one does both).
SAME_COMPONENT = {"NetworkATC": "NetworkATC", "NetworkVirtualization": "NetworkVirtualization",
                  "Data-Center-Bridging": "DataCenterBridging"}
KNOWN_WINDOWS_FEATURES = {*REQUIRED_WINDOWS_FEATURES, "Windows-Defender", "BitLocker", "Hyper-V"}


def _section(lab: Lab, node: LabNode, out: dict[str, Any], section: str, read: Any) -> None:
    """One section of the read, in its own try/catch as the script has it: a failing one writes its error."""
    if f"{node.name}:{section}".lower() in {k.lower() for k in lab.state.faults.readiness_unreadable}:
        message = {
            "Features": "The term 'Get-WindowsFeature' is not recognized as the name of a cmdlet, function, script "
                        "file, or operable program.",
            "Tpm": "Get-Tpm : Access denied. To run this cmdlet, start Windows PowerShell with elevated rights.",
        }.get(section, f"{section}: the read failed on {node.name}.")
        out[f"{section}Error"] = message
        return
    value = read()
    if section == "Os":
        out.update(value)
    else:
        out[section] = value


def _names(params: dict[str, Any], key: str) -> list[str]:
    value = params.get(key) or []
    return [value] if isinstance(value, str) else list(value)


@handles("get_node_readiness")
def _get_node_readiness(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    out: dict[str, Any] = {}
    wanted_features = {n.lower() for n in _names(params, "WindowsFeatures")}
    wanted_optional = {n.lower() for n in _names(params, "OptionalFeatures")}
    wanted_modules = {n.lower() for n in _names(params, "AksModules")}
    wanted_services = {n.lower() for n in _names(params, "MocServices")}
    _section(lab, node, out, "Os", lambda: {"CurrentBuildNumber": node.build, "UBR": node.ubr,
                                            "DisplayVersion": node.display_version})
    _section(lab, node, out, "Features", lambda: [
        {"Name": name, "InstallState": state} for name, state in node.features.items()
        if name.lower() in wanted_features])
    _section(lab, node, out, "OptionalFeatures", lambda: [
        {"FeatureName": name, "State": state} for name, state in node.optional_features.items()
        if name.lower() in wanted_optional])
    _section(lab, node, out, "BitLocker", lambda: [
        {"MountPoint": mount, "VolumeStatus": v.volume_status, "ProtectionStatus": v.protection_status,
         "VolumeType": v.volume_type} for mount, v in node.bitlocker.items()])
    _section(lab, node, out, "DeviceGuard", lambda: {
        "CodeIntegrityPolicyEnforcementStatus": node.wdac_enforcement,
        "UsermodeCodeIntegrityPolicyEnforcementStatus": node.wdac_enforcement})
    _section(lab, node, out, "Language", lambda: {
        "OSLanguage": LCIDS.get(node.ui_language, 0), "SystemLocale": node.system_locale,
        "Culture": node.system_locale})
    tpm = node.tpm
    _section(lab, node, out, "Tpm", lambda: {
        "TpmPresent": tpm.tpm_present, "TpmReady": tpm.tpm_ready, "TpmEnabled": tpm.tpm_enabled,
        "TpmActivated": tpm.tpm_activated, "OwnerClearDisabled": tpm.owner_clear_disabled,
        "ManagedAuthLevel": tpm.managed_auth_level, "AutoProvisioning": tpm.auto_provisioning,
        "LockedOut": tpm.locked_out, "LockoutCount": tpm.lockout_count})
    _section(lab, node, out, "AksModules", lambda: [
        {"Name": name, "Version": AKS_MODULE_VERSIONS.get(name, "1.0.0")} for name in node.aks_modules
        if name.lower() in wanted_modules])
    _section(lab, node, out, "MocServices", lambda: [
        {"Name": name, "Status": status} for name, status in node.moc_services.items()
        if name.lower() in wanted_services])
    return out


@handles("get_cluster_readiness")
def _get_cluster_readiness(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    lab.require_cluster_service(node)
    return {
        "Name": lab.state.cluster_name,
        "FunctionalLevel": lab.state.functional_level,
        "Pools": [{"FriendlyName": p.friendly_name, "Version": p.version, "Size": p.size,
                   "AllocatedSize": p.allocated_size} for p in lab.state.pools],
        "VirtualDisks": [d.friendly_name for d in lab.state.disks],
    }


# ----------------------------------------------------------------------------- remedies


def _key(table: dict[str, Any], name: str) -> str | None:
    return next((k for k in table if k.lower() == name.lower()), None)


def _install(node: LabNode, name: str) -> bool:
    """Install the Windows feature ``name`` (and its optional feature); True when a restart is needed."""
    restart = name in RESTART_FEATURES
    node.features[_key(node.features, name) or name] = "InstallPending" if restart else "Installed"
    optional = SAME_COMPONENT.get(name)
    if optional and node.optional_features.get(optional) != "Enabled":
        node.optional_features[optional] = "EnablePending" if restart else "Enabled"
    if restart and name not in node.restart_pending_features:
        node.restart_pending_features.append(name)
    return restart


@handles("install_windows_features")
def _install_windows_features(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    rows = []
    for name in _names(params, "Names"):
        key = _key(node.features, name)
        if key is None and name not in KNOWN_WINDOWS_FEATURES:
            rows.append({"Name": name, "Success": False, "RestartNeeded": "No", "ExitCode": "Failed",
                         "Error": "ArgumentNotValid: The role, role service, or feature name is not valid: "
                                  f"'{name}'. The name was not found."})
            continue
        state = node.features.get(key) if key else None
        if state == "Installed":
            rows.append({"Name": name, "Success": True, "RestartNeeded": "No", "ExitCode": "NoChangeNeeded",
                         "Error": None})
            continue
        if state == "InstallPending":
            rows.append({"Name": name, "Success": True, "RestartNeeded": "Yes", "ExitCode": "SuccessRestartRequired",
                         "Error": None})
            continue
        lab.changed()
        restart = _install(node, key or name)
        rows.append({"Name": name, "Success": True, "RestartNeeded": "Yes" if restart else "No",
                     "ExitCode": "SuccessRestartRequired" if restart else "Success", "Error": None})
    return rows


@handles("enable_optional_features")
def _enable_optional_features(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    rows = []
    for name in _names(params, "Names"):
        key = _key(node.optional_features, name)
        if key is None and name not in REQUIRED_OPTIONAL_FEATURES:
            rows.append({"FeatureName": name, "Success": False, "RestartNeeded": False,
                         "Error": f"Feature name {name} is unknown."})
            continue
        state = node.optional_features.get(key) if key else None
        if state in ("Enabled", "EnablePending"):
            rows.append({"FeatureName": name, "Success": True, "RestartNeeded": state == "EnablePending",
                         "Error": None})
            continue
        lab.changed()
        restart = name in RESTART_FEATURES
        node.optional_features[key or name] = "EnablePending" if restart else "Enabled"
        windows = next((w for w, o in SAME_COMPONENT.items() if o == name), None)
        if windows and node.features.get(windows) != "Installed":
            node.features[windows] = "InstallPending" if restart else "Installed"
        if restart and name not in node.restart_pending_features:
            node.restart_pending_features.append(name)
        rows.append({"FeatureName": name, "Success": True, "RestartNeeded": restart, "Error": None})
    return rows


def _volume(node: LabNode, mount_point: str, cmdlet: str) -> tuple[str, Any]:
    wanted = mount_point.rstrip("\\").upper()
    key = next((k for k in node.bitlocker if k.rstrip("\\").upper() == wanted), None)
    if key is None:
        raise LabPowerShellError(f"{cmdlet} : BitLocker Drive Encryption cannot be used on {mount_point}: "
                                 "the volume is not encrypted or does not exist.")
    return key, node.bitlocker[key]


def _volume_row(mount: str, volume: Any) -> dict[str, Any]:
    return {"MountPoint": mount, "VolumeStatus": volume.volume_status, "ProtectionStatus": volume.protection_status}


@handles("suspend_bitlocker")
def _suspend_bitlocker(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    mount, volume = _volume(node, params["MountPoint"], "Suspend-BitLocker")
    lab.changed()
    volume.protection_status = "Off"
    volume.suspended_reboots = 0  # -RebootCount 0: until Resume-BitLocker
    return _volume_row(mount, volume)


@handles("resume_bitlocker")
def _resume_bitlocker(lab: Lab, node: LabNode, params: dict[str, Any]) -> Any:
    mount, volume = _volume(node, params["MountPoint"], "Resume-BitLocker")
    lab.changed()
    volume.protection_status = "On"
    volume.suspended_reboots = None
    return _volume_row(mount, volume)
