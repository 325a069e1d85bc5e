"""Per-device variables: the NOC's page and REST field — view, set, delete; each refusal names the
variable (and the path it would break) and stores nothing; changes are audited without repeating
secrets; the dry run reflects them."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from acs.homenet.models import DeviceVariable, Profile
from acs.homenet.services import save_profile
from acs.models import Device, DeviceParameters
from portal.choices import AuditKind
from portal.models import AuditEvent

AP = "Device.WiFi.AccessPoint.1.Security.KeyPassphrase"
SSID = "Device.WiFi.SSID.1.SSID"


@pytest.fixture
def gateway(tenants):
    device = Device.objects.create(
        oui="00D09E",
        product_class="A-STB",
        serial_number="GW7",
        manufacturer="Alpha",
        device_class=tenants["dc_a"],
    )
    DeviceParameters.objects.create(
        device=device,
        tree={
            AP: ["", "string", True],
            SSID: ["home", "string", True],
        },
    )
    save_profile(
        Profile(
            name="wifi",
            values=[
                {"path": AP, "value": "{wifi_passphrase}"},
                {"path": SSID, "value": "{ssid_prefix}-{serial}"},
            ],
        ),
        actor=None,
    )
    return device


def page(user, device, data=None):
    client = Client()
    client.force_login(user)
    url = f"/home-network/devices/{device.pk}/variables/"
    return client.post(url, data) if data is not None else client.get(url)


def test_the_page_lists_builtin_set_and_missing_variables(tenants, gateway):
    DeviceVariable.objects.create(device=gateway, name="ssid_prefix", value="IPTV")
    response = page(tenants["noc"], gateway)
    assert response.status_code == 200
    html = response.content.decode()
    assert "{serial}" in html and "GW7" in html
    assert 'name="value:ssid_prefix" value="IPTV"' in html
    assert 'data-variable="wifi_passphrase"' in html and 'data-testid="missing"' in html
    assert f'wifi — <span class="mono">{AP}</span>' in html
    # The dry run shows what the variables make of the profile now.
    assert "set Device.WiFi.SSID.1.SSID: &#x27;home&#x27; -&gt; &#x27;IPTV-GW7&#x27;" in html
    assert "the device has no variable {wifi_passphrase}" in html


def test_a_bad_value_is_refused_naming_the_variable_and_path(tenants, gateway):
    response = page(tenants["noc"], gateway, {"value:wifi_passphrase": "short", "new_name": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        f"wifi_passphrase: {AP}: &#x27;short&#x27; is shorter than 8 characters (profile wifi)"
        in html
    )
    assert 'name="value:wifi_passphrase" value="short"' in html  # what was typed stays
    assert not DeviceVariable.objects.exists()
    assert not AuditEvent.objects.filter(kind=AuditKind.HOMENET_VARIABLES_SET).exists()


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("1st", "&#x27;1st&#x27; is not a variable name"),
        ("serial", "{serial} is the device&#x27;s own (from the registry) and cannot be set"),
        ("a" * 65, "is not a variable name"),
    ],
)
def test_bad_new_names_are_refused(tenants, gateway, name, error):
    response = page(tenants["noc"], gateway, {"new_name": name, "new_value": "x"})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not DeviceVariable.objects.exists()


def test_set_change_delete_audited_and_reflected_in_the_dry_run(tenants, gateway):
    noc = tenants["noc"]
    response = page(
        noc,
        gateway,
        {
            "value:wifi_passphrase": "correct horse",
            "value:ssid_prefix": "TV",
            "new_name": "ntp_server",
            "new_value": "ntp.example",
        },
    )
    assert response.status_code == 302
    stored = dict(DeviceVariable.objects.values_list("name", "value"))
    assert stored == {
        "wifi_passphrase": "correct horse",
        "ssid_prefix": "TV",
        "ntp_server": "ntp.example",
    }
    event = AuditEvent.objects.get(kind=AuditKind.HOMENET_VARIABLES_SET)
    assert event.actor == noc and event.object_id == str(gateway.pk)
    assert event.changes == {
        "ntp_server": [None, "ntp.example"],
        "ssid_prefix": [None, "TV"],
        "wifi_passphrase": [None, "(hidden)"],
    }
    assert "correct horse" not in str(event.details) + event.message
    html = page(noc, gateway).content.decode()
    assert f"set {AP}: &#x27;&#x27; -&gt; &#x27;correct horse&#x27;" in html
    assert "&#x27;TV-GW7&#x27;" in html

    # Delete one, change another: one audit row each time, only what changed.
    response = page(
        noc,
        gateway,
        {
            "value:wifi_passphrase": "correct horse",
            "value:ssid_prefix": "IPTV",
            "value:ntp_server": "ntp.example",
            "delete:ntp_server": "on",
        },
    )
    assert response.status_code == 302
    assert dict(DeviceVariable.objects.values_list("name", "value")) == {
        "wifi_passphrase": "correct horse",
        "ssid_prefix": "IPTV",
    }
    latest = AuditEvent.objects.filter(kind=AuditKind.HOMENET_VARIABLES_SET).latest("pk")
    assert latest.changes == {"ntp_server": ["ntp.example", None], "ssid_prefix": ["TV", "IPTV"]}


def test_help_desk_and_other_tenants_cannot(tenants, gateway):
    assert page(tenants["helpdesk"], gateway).status_code == 403
    assert (
        page(tenants["helpdesk"], gateway, {"new_name": "x", "new_value": "y"}).status_code == 403
    )
    assert page(tenants["supplier_b"], gateway).status_code == 404
    assert not DeviceVariable.objects.exists()


# --- REST ------------------------------------------------------------------------------------------


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_rest_variables(tenants, gateway):
    noc = api(tenants["noc"])
    url = f"/api/profiles/variables/{gateway.pk}/"
    body = noc.get(url).json()
    assert body["variables"] == {} and body["builtin"]["serial"] == "GW7"
    assert body["missing"] == ["ssid_prefix", "wifi_passphrase"]
    assert body["used_by"]["wifi_passphrase"] == [{"profile": "wifi", "path": AP}]

    refused = noc.patch(url, {"variables": {"wifi_passphrase": "short"}}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "variables": {
            "wifi_passphrase": [f"{AP}: 'short' is shorter than 8 characters (profile wifi)"]
        }
    }
    assert noc.patch(url, {"variables": ["x"]}, format="json").status_code == 400

    ok = noc.patch(
        url, {"variables": {"wifi_passphrase": "correct horse", "extra": "1"}}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["missing"] == ["ssid_prefix"]
    dry = noc.get(f"/api/profiles/dry-run/{gateway.pk}/").json()
    assert any(c["path"] == AP and c["value"] == "correct horse" for c in dry["changes"])

    # PUT replaces the whole set; null deletes with PATCH.
    put = noc.put(url, {"variables": {"ssid_prefix": "IPTV"}}, format="json")
    assert put.json()["variables"] == {"ssid_prefix": "IPTV"}
    patched = noc.patch(url, {"variables": {"ssid_prefix": None}}, format="json")
    assert patched.json()["variables"] == {}

    assert api(tenants["helpdesk"]).get(url).status_code == 403
    assert api(tenants["helpdesk"]).patch(url, {"variables": {}}, format="json").status_code == 403
    assert api(tenants["supplier_a"]).get(url).status_code == 403
