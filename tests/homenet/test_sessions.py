"""Profiles applied by the real ACS (/cwmp, task queue, session engine) to a cpesim STB (its real
TR-135 data model and RPC semantics), in real transactions so the Inform hook runs on commit."""

from __future__ import annotations

import pytest

from acs.cwmp import messages as m
from acs.homenet.choices import ComplianceState
from acs.homenet.models import Compliance, Profile
from acs.homenet.services import save_profile
from tests.cds.conftest import SimBox

pytestmark = pytest.mark.django_db(transaction=True)

OUT = "Device.Services.STBService.1.Components."


@pytest.fixture
def open_acs(settings, tenants):
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    return tenants


def profile(name, priority=0, values=(), objects=(), triggers=("bootstrap", "boot", "periodic")):
    return save_profile(
        Profile(
            name=name,
            layer="end_device",
            priority=priority,
            triggers=list(triggers),
            values=list(values),
            objects_rules=list(objects),
        ),
        actor=None,
    )


def av_profile():
    return profile(
        "STB A/V",
        values=[
            {"path": OUT + "AudioOutput.*.AudioLevel", "value": "40", "type": "unsignedInt"},
            {"path": OUT + "HDMI.1.ResolutionMode", "value": "Manual"},
            {"path": OUT + "HDMI.1.ResolutionValue", "value": "1280x720p/50Hz"},
        ],
    )


def test_bootstrap_converges_the_box_in_its_first_session(open_acs):
    av_profile()
    box = SimBox("HN0001")
    rpcs = box.session()
    # Read what the tree does not know, then one SetParameterValues for everything.
    names = [type(r).__name__ for r in rpcs]
    assert names.count("SetParameterValues") == 1, names
    assert m.GetParameterNames(OUT + "AudioOutput.", False) in rpcs
    assert box.model.get(OUT + "AudioOutput.1.AudioLevel") == "40"
    assert box.model.get(OUT + "AudioOutput.2.AudioLevel") == "40"
    assert box.model.get(OUT + "HDMI.1.ResolutionValue") == "1280x720p/50Hz"
    compliance = Compliance.objects.get(device=box.device())
    assert compliance.state == ComplianceState.IN_SYNC, compliance.changes
    assert compliance.profiles == ["STB A/V"]
    # A converged box gets no RPC in its next session.
    assert box.session("2 PERIODIC") == []
    assert Compliance.objects.get(device=box.device()).state == ComplianceState.IN_SYNC


def test_a_device_fault_on_set_parameter_values_is_a_failed_compliance(open_acs):
    profile(
        "Bad video format",
        values=[{"path": OUT + "VideoOutput.1.VideoFormat", "value": "SCART"}],
    )
    box = SimBox("HN0002")
    box.session()
    compliance = Compliance.objects.get(device=box.device())
    assert compliance.state == ComplianceState.FAILED
    assert compliance.fault_code in (9003, 9007)
    assert compliance.fault_details[0]["name"] == OUT + "VideoOutput.1.VideoFormat"
    assert "SCART" in compliance.fault_string
    assert box.model.get(OUT + "VideoOutput.1.VideoFormat") == "HDMI"


def test_same_priority_conflict_is_shown_and_not_sent(open_acs):
    path = OUT + "AudioOutput.1.AudioLevel"
    profile("quiet", 5, values=[{"path": path, "value": "10", "type": "unsignedInt"}])
    profile("loud", 5, values=[{"path": path, "value": "90", "type": "unsignedInt"}])
    box = SimBox("HN0003")
    box.session()
    assert box.model.get(path) == "60"  # cpesim's default: untouched
    compliance = Compliance.objects.get(device=box.device())
    assert compliance.state == ComplianceState.CONFLICT
    assert compliance.conflicts[0]["path"] == path
    assert {tuple(c) for c in compliance.conflicts[0]["claims"]} == {
        ("loud", "90"),
        ("quiet", "10"),
    }
    assert not any(isinstance(r, m.SetParameterValues) for r in box.rpcs)


def test_drift_on_a_value_change_is_put_back(open_acs):
    av_profile()
    box = SimBox("HN0004")
    box.session()
    box.model.put(OUT + "HDMI.1.ResolutionValue", "1920x1080p/50Hz")  # the user changed it
    # The box reports the change (the ACS learns it from a read or a notification).
    box.session("2 PERIODIC")  # tree still says 720p: nothing to do
    from acs.services.tasks import refresh_parameters

    refresh_parameters(box.device(), actor=None, path=OUT + "HDMI.")
    box.session("6 CONNECTION REQUEST")
    box.session("2 PERIODIC")
    assert box.model.get(OUT + "HDMI.1.ResolutionValue") == "1280x720p/50Hz"


def test_informs_no_profile_listens_to_cost_no_query(open_acs, django_assert_num_queries):
    from acs.homenet.services import active_triggers, inform_received

    profile("boot only", triggers=("boot",))
    box = SimBox("HN0005")
    box.session()
    device_id = box.device().pk
    assert active_triggers() == {"boot"}
    with django_assert_num_queries(0):
        inform_received(device_id, ("2 PERIODIC",))


def gateway_box(serial: str, stb_serials: list[str]) -> SimBox:
    from cpesim.box import Box
    from cpesim.gateway import stb_hosts
    from cpesim.profiles import DeviceSpec

    sim = SimBox(serial)
    spec = DeviceSpec(
        "00D09E",
        "A-GW",
        manufacturer="Alpha",
        kind="gateway",
        hosts=stb_hosts("00D09E", stb_serials, wireless=1),
    )
    sim.box = Box(sim.box.config, spec, serial, 9)
    return sim


def test_gateway_profiles_with_object_instances_and_the_home_network(open_acs):
    from django.test import Client

    from acs.homenet.library import LIBRARY

    for entry in LIBRARY:
        if entry["name"] in ("Gateway: IGMP proxy for IPTV", "Gateway: QoS for IPTV"):
            profile(entry["name"], values=entry["values"], objects=entry["objects"])
    stbs = [SimBox(f"STB{n}") for n in (1, 2)]
    for stb in stbs:
        stb.session()
    gw = gateway_box("GW0001", ["STB1", "STB2", "STB9"])
    rpcs = gw.session()
    names = [type(r).__name__ for r in rpcs]
    # Unknown tables read by names, one AddObject for the QoS rule, one SetParameterValues for
    # the IGMP values and the new instance's values together.
    assert names.count("AddObject") == 1 and names.count("SetParameterValues") == 1, names
    q = "Device.QoS.Classification.1."
    assert gw.model.get(q + "Alias") == "iptv-multicast"
    assert gw.model.get(q + "DSCPMark") == "34"
    assert gw.model.get("Device.X_IPTV_IGMPProxy.Version") == "3"
    assert Compliance.objects.get(device=gw.device()).state == ComplianceState.IN_SYNC
    assert gw.session("2 PERIODIC") == []  # converged: nothing more, and no duplicate instance
    assert gw.model.get("Device.QoS.ClassificationNumberOfEntries") == "1"

    # The home network: refresh the gateway's tree, then its hosts are matched to the STBs.
    from acs.services.tasks import refresh_parameters

    refresh_parameters(gw.device(), actor=None, path="Device.Hosts.")
    gw.session("6 CONNECTION REQUEST")
    # The ACS learns a box's MAC from an Inform carrying it (cpesim's STBs do not send it) or from
    # the registry: here the registry, as an operator's import would.
    for stb in stbs:
        device = stb.device()
        device.mac_address = stb.model.get("Device.Ethernet.Interface.1.MACAddress").lower()
        device.save()
    client = Client()
    client.force_login(open_acs["noc"])
    html = client.get(f"/home-network/devices/{gw.device().pk}/").content.decode()
    assert "3 host(s), 1 on the WLAN, 2 managed by this ACS" in html
    assert str(stbs[0].device()) in html and str(stbs[1].device()) in html
