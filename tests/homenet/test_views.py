"""Pages: profiles, the compliance dashboard, a gateway's home network with its dry run."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from acs.homenet.models import Compliance, Profile
from acs.homenet.services import save_profile
from acs.models import Device, DeviceParameters, Task

H = "Device.Hosts.Host."


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def gateway(tenants):
    gw = Device.objects.create(
        oui="00D09E",
        product_class="A-GW",
        serial_number="GW1",
        manufacturer="Alpha",
        device_class=tenants["dc_a"],
        mac_address="00:d0:9e:aa:00:01",
    )
    stb = Device.objects.create(
        oui="00D09E",
        product_class="A-STB",
        serial_number="STB1",
        manufacturer="Alpha",
        device_class=tenants["dc_a"],
        mac_address="00:d0:9e:bb:00:02",
    )
    other = Device.objects.create(  # another manufacturer's box behind the same gateway
        oui="3C62F0",
        product_class="B-STB",
        serial_number="B1",
        manufacturer="Beta",
        device_class=tenants["dc_b"],
        mac_address="3c:62:f0:00:00:03",
    )
    Compliance.objects.create(device=stb, state="drifted")
    tree = {
        "Device.ManagementServer.URL": ["https://acs.example/cwmp", "string", True],
        "Device.Time.NTPServer1": ["ntp.example", "string", True],
        "Device.WiFi.Radio.2.Channel": ["44", "unsignedInt", True],
        "Device.WiFi.Radio.": [None, None, False],
    }
    for n, (mac, ip, kind, active) in enumerate(
        [
            ("00:D0:9E:BB:00:02", "192.168.1.10", "Ethernet", "true"),
            ("3C:62:F0:00:00:03", "192.168.1.11", "802.11", "true"),
            ("AA:BB:CC:00:00:04", "192.168.1.12", "802.11", "false"),
        ],
        start=1,
    ):
        tree |= {
            f"{H}{n}.PhysAddress": [mac, "string", False],
            f"{H}{n}.IPAddress": [ip, "string", False],
            f"{H}{n}.InterfaceType": [kind, "string", False],
            f"{H}{n}.Active": [active, "boolean", False],
        }
    DeviceParameters.objects.create(device=gw, tree=tree)
    return {"gw": gw, "stb": stb, "other": other}


def test_home_network_view_hosts_managed_endpoints_and_dry_run(tenants, gateway):
    save_profile(
        Profile(
            name="wifi",
            values=[{"path": "Device.WiFi.Radio.2.Channel", "value": "36", "type": "unsignedInt"}],
        ),
        actor=None,
    )
    response = login(tenants["noc"]).get(f"/home-network/devices/{gateway['gw'].pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "3 host(s), 2 on the WLAN, 2 managed by this ACS" in html
    assert "00-D0-9E-BB-00-02" in html or "00:D0:9E:BB:00:02" in html.upper()
    assert str(gateway["stb"]) in html and "drifted" in html
    assert "https://acs.example/cwmp" in html and "ntp.example" in html
    assert "set Device.WiFi.Radio.2.Channel: &#x27;44&#x27; -&gt; &#x27;36&#x27; (wifi)" in html
    # Apply now queues the one SetParameterValues, audited.
    response = login(tenants["noc"]).post(f"/home-network/devices/{gateway['gw'].pk}/apply/")
    assert response.status_code == 302
    assert Task.objects.get().rpc == "SetParameterValues"
    assert Compliance.objects.get(device=gateway["gw"]).state == "converging"


def test_a_supplier_sees_only_its_own_gateways(tenants, gateway):
    client = login(tenants["supplier_b"])
    assert client.get(f"/home-network/devices/{gateway['gw'].pk}/").status_code in (403, 404)


def test_profile_pages_and_form_errors(tenants):
    noc = login(tenants["noc"])
    assert noc.get("/profiles/").status_code == 200
    response = noc.post(
        "/profiles/new/",
        {
            "name": "bad",
            "layer": "gateway",
            "priority": "0",
            "values": json.dumps(
                [{"path": "Device.WiFi.Radio.1.Channel", "value": "999", "type": "unsignedInt"}]
            ),
            "objects_rules": "[",
            "software_versions": "[]",
            "tags": "[]",
        },
    )
    assert response.status_code == 200
    assert "not JSON" in response.content.decode()
    response = noc.post(
        "/profiles/new/",
        {
            "name": "bad",
            "layer": "gateway",
            "priority": "0",
            "values": json.dumps(
                [{"path": "Device.WiFi.Radio.1.Channel", "value": "999", "type": "unsignedInt"}]
            ),
            "objects_rules": "[]",
            "software_versions": "[]",
            "tags": "[]",
        },
    )
    assert "999 is above the maximum 233" in response.content.decode()
    assert not Profile.objects.exists()
    response = noc.post(
        "/profiles/new/",
        {
            "name": "good",
            "layer": "gateway",
            "priority": "0",
            "triggers": ["boot"],
            "values": json.dumps(
                [{"path": "Device.WiFi.Radio.1.Channel", "value": "6", "type": "unsignedInt"}]
            ),
            "objects_rules": "[]",
            "software_versions": "[]",
            "tags": "[]",
        },
    )
    profile = Profile.objects.get()
    assert response.status_code == 302
    page = noc.get(f"/profiles/{profile.pk}/").content.decode()
    assert "Device.WiFi.Radio.1.Channel" in page
    assert login(tenants["helpdesk"]).get("/profiles/new/").status_code == 403
    assert noc.get("/home-network/").status_code == 200
