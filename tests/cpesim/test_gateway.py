"""cpesim's home gateway (cpesim.gateway): the TR-181 home-network objects with RPC semantics."""

from __future__ import annotations

import pytest

from acs.cwmp import messages as m
from cpesim.box import Box
from cpesim.datamodel import CwmpFault
from cpesim.fleet import FleetConfig
from cpesim.gateway import host_mac, stb_hosts
from cpesim.profiles import DeviceSpec
from cpesim.rpc import add_object, get_parameter_names, get_parameter_values, set_parameter_values

HOSTS = stb_hosts("00D09E", ["STB1", "STB2", "STB3"], wireless=1)


@pytest.fixture
def gateway():
    spec = DeviceSpec("00D09E", "A-GW", manufacturer="Alpha", kind="gateway", hosts=HOSTS)
    return Box(FleetConfig(acs_url="http://acs.example/cwmp"), spec, "GW0001", 0)


def values(box, name):
    answer = get_parameter_values(box.model, m.GetParameterValues((name,))).response
    return {p.name: p.value.text for p in answer.parameters}


def test_hosts_behind_the_gateway(gateway):
    hosts = values(gateway, "Device.Hosts.")
    assert hosts["Device.Hosts.HostNumberOfEntries"] == "3"
    assert hosts["Device.Hosts.Host.1.PhysAddress"] == host_mac("00D09E", "STB1")
    assert hosts["Device.Hosts.Host.1.InterfaceType"] == "802.11"
    assert hosts["Device.Hosts.Host.2.InterfaceType"] == "Ethernet"
    assert hosts["Device.Hosts.Host.3.IPAddress"] == "192.168.1.102"
    # The STB boxes cpesim makes for those serials carry those MACs.
    stb = Box(
        FleetConfig(acs_url="http://acs.example/cwmp"), DeviceSpec("00D09E", "A-STB"), "STB2", 1
    )
    assert stb.model.get("Device.Ethernet.Interface.1.MACAddress") == host_mac("00D09E", "STB2")


def test_wifi_objects_and_their_checks(gateway):
    names = {
        p.name
        for p in get_parameter_names(
            gateway.model, m.GetParameterNames("Device.WiFi.", False)
        ).response.parameters
    }
    assert {
        "Device.WiFi.Radio.2.Channel",
        "Device.WiFi.SSID.1.SSID",
        "Device.WiFi.AccessPoint.1.Security.ModeEnabled",
    } <= names
    set_parameter_values(
        gateway.model,
        m.SetParameterValues(
            (
                m.ParameterValue(
                    "Device.WiFi.Radio.2.Channel", m.TypedValue("36", m.XsdType.UNSIGNED_INT)
                ),
                m.ParameterValue(
                    "Device.WiFi.AccessPoint.1.Security.KeyPassphrase",
                    m.TypedValue("correct horse"),
                ),
                m.ParameterValue(
                    "Device.X_IPTV_IGMPProxy.Enable", m.TypedValue("1", m.XsdType.BOOLEAN)
                ),
            )
        ),
    )
    assert gateway.model.get("Device.WiFi.Radio.2.Channel") == "36"
    assert values(gateway, "Device.WiFi.AccessPoint.1.Security.KeyPassphrase") == {
        "Device.WiFi.AccessPoint.1.Security.KeyPassphrase": ""
    }  # a secret reads as empty
    assert gateway.model.get("Device.X_IPTV_IGMPProxy.Enable") == "true"
    with pytest.raises(CwmpFault) as fault:
        set_parameter_values(
            gateway.model,
            m.SetParameterValues(
                (
                    m.ParameterValue(
                        "Device.WiFi.AccessPoint.1.Security.KeyPassphrase", m.TypedValue("short")
                    ),
                )
            ),
        )
    assert fault.value.code == 9003
    number = add_object(gateway.model, m.AddObject("Device.WiFi.SSID.")).response.instance_number
    assert number == 2
    assert gateway.model.get("Device.WiFi.SSIDNumberOfEntries") == "2"


def test_gateway_has_no_stb_service_instance(gateway):
    assert values(gateway, "Device.Services.")["Device.Services.STBServiceNumberOfEntries"] == "0"
