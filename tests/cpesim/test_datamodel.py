"""The simulated box's data model and RPC semantics (no network)."""

from __future__ import annotations

import pytest

from acs.cwmp import messages as m
from acs.cwmp.codec import CWMP_1_0, CWMP_1_2, parse_envelope, write_envelope
from cpesim.box import Box
from cpesim.fleet import FleetConfig
from cpesim.profiles import (
    APP_PULL,
    APP_PUSH,
    CONSENT,
    MB,
    PULL,
    PULL_FOLDER,
    PUSH,
    PUSH_FOLDER,
    VOLUME,
    DeviceSpec,
)

SPEC = DeviceSpec("00D09E", "NL-STB4000", manufacturer="Nordlicht")


def make_box(serial: str = "00000001", consent: float = 0.0, **config) -> Box:
    cfg = FleetConfig(acs_url="http://acs.example/cwmp", consent_fraction=consent, **config)
    box = Box(cfg, SPEC, serial, 1)
    box.power_on()
    return box


def rpc(box: Box, request):
    return box.handle_rpc(request)


def values(box: Box, *names: str) -> dict[str, str]:
    answer = rpc(box, m.GetParameterValues(names))
    assert isinstance(answer, m.GetParameterValuesResponse), answer
    return {p.name: p.value.text for p in answer.parameters}


def spv(box: Box, *pairs, key: str = "k1"):
    return rpc(
        box,
        m.SetParameterValues(
            tuple(
                m.ParameterValue(n, v if isinstance(v, m.TypedValue) else m.TypedValue(v))
                for n, v in pairs
            ),
            key,
        ),
    )


def fault_code(answer) -> int:
    assert isinstance(answer, m.Fault), answer
    return answer.fault_code


# --- GetParameterNames ----------------------------------------------------------------------------


def test_names_next_level_lists_only_children_with_writability():
    box = make_box()
    answer = rpc(box, m.GetParameterNames("Device.ManagementServer.", True))
    names = {p.name: p.writable for p in answer.parameters}
    assert names["Device.ManagementServer.URL"] is True
    assert names["Device.ManagementServer.ParameterKey"] is False
    assert "Device.ManagementServer." not in names
    top = {p.name for p in rpc(box, m.GetParameterNames("Device.", True)).parameters}
    assert {"Device.DeviceInfo.", "Device.ManagementServer.", "Device.Services."} <= top
    assert "Device.DeviceInfo.SerialNumber" not in top
    assert "Device.RootDataModelVersion" in top


def test_names_tables_and_instances_report_add_and_delete_rights():
    box = make_box()
    folders = VOLUME + "Folder."
    names = {p.name: p.writable for p in rpc(box, m.GetParameterNames(folders, True)).parameters}
    assert names == {f"{folders}1.": True, f"{folders}2.": True, f"{folders}3.": True}
    volume = {p.name: p.writable for p in rpc(box, m.GetParameterNames(VOLUME, True)).parameters}
    assert volume[folders] is True  # the table: AddObject allowed
    assert volume[VOLUME + "Capacity"] is True
    assert volume[VOLUME + "UsedSpace"] is False
    items = {
        p.name: p.writable
        for p in rpc(box, m.GetParameterNames(PUSH + "Content.", False)).parameters
    }
    assert items[PUSH + "Content.Item."] is False  # content arrives by CDS, never AddObject
    assert items[PUSH + "Content.Item.1."] is True  # ... but may be deleted
    assert PUSH + "Content." in items  # NextLevel false includes the path itself


def test_names_whole_tree_and_empty_path():
    box = make_box()
    assert rpc(box, m.GetParameterNames("", True)).parameters == (
        m.ParameterInfo("Device.", False),
    )
    everything = [p.name for p in rpc(box, m.GetParameterNames("", False)).parameters]
    assert everything[0] == "Device."
    assert "Device.Ethernet.Interface.1.MACAddress" in everything
    assert "Device.Services.StorageService.1.PhysicalMedium.1.Capacity" in everything
    assert len(everything) == len(set(everything))
    assert [
        p.name for p in rpc(box, m.GetParameterNames("Device.", False)).parameters
    ] == everything


def test_names_faults():
    box = make_box()
    assert fault_code(rpc(box, m.GetParameterNames("Device.DeviceInfo.SerialNumber", True))) == 9003
    assert fault_code(rpc(box, m.GetParameterNames("Device.Nope.", False))) == 9005
    assert fault_code(rpc(box, m.GetParameterNames("Device.DeviceInfo.Nope", False))) == 9005
    one = rpc(box, m.GetParameterNames("Device.DeviceInfo.SerialNumber", False))
    assert one.parameters == (m.ParameterInfo("Device.DeviceInfo.SerialNumber", False),)


# --- GetParameterValues ---------------------------------------------------------------------------


def test_values_partial_paths_types_and_identity():
    box = make_box("00001234")
    got = values(box, "Device.DeviceInfo.", "Device.Ethernet.Interface.1.MACAddress")
    assert got["Device.DeviceInfo.SerialNumber"] == "00001234"
    assert got["Device.DeviceInfo.ManufacturerOUI"] == "00D09E"
    assert got["Device.DeviceInfo.ProductClass"] == "NL-STB4000"
    assert got["Device.Ethernet.Interface.1.MACAddress"].startswith("00:D0:9E:")
    typed = rpc(box, m.GetParameterValues(("Device.DeviceInfo.UpTime", VOLUME + "Capacity")))
    assert [p.value.type for p in typed.parameters] == [m.XsdType.UNSIGNED_INT] * 2
    assert fault_code(rpc(box, m.GetParameterValues(("Device.DeviceInfo.Bogus",)))) == 9005
    assert fault_code(rpc(box, m.GetParameterValues(("Device.Bogus.",)))) == 9005


def test_passwords_read_as_empty_strings():
    box = make_box(password="secret-{serial}")
    got = values(box, "Device.ManagementServer.")
    assert got["Device.ManagementServer.Password"] == ""
    assert got["Device.ManagementServer.ConnectionRequestPassword"] == ""
    assert box.credentials()[1] == "secret-00000001"


def test_number_of_entries_follow_the_tables():
    box = make_box()
    got = values(box, STB_COMPONENTS := "Device.Services.STBService.1.Components.")
    assert got[STB_COMPONENTS + "AudioOutputNumberOfEntries"] == "2"
    assert got[STB_COMPONENTS + "HDMINumberOfEntries"] == "1"
    count = int(
        values(box, PUSH + "Content.ItemNumberOfEntries")[PUSH + "Content.ItemNumberOfEntries"]
    )
    assert count == len(box.model.instances(PUSH + "Content.Item."))


# --- SetParameterValues ---------------------------------------------------------------------------


def test_set_values_all_or_nothing_with_per_parameter_faults():
    box = make_box()
    audio = "Device.Services.STBService.1.Components.AudioOutput.1.AudioLevel"
    before = values(box, audio)[audio]
    answer = spv(
        box,
        (audio, "42"),  # fine on its own
        ("Device.DeviceInfo.SerialNumber", "X"),  # read-only
        ("Device.Services.STBService.1.Components.HDMI.1.ResolutionValue", "640x480p/60Hz"),
        ("Device.Services.STBService.1.Components.AudioOutput.2.AudioLevel", "101"),
        ("Device.DeviceInfo.NoSuch", "1"),
        ("Device.ManagementServer.PeriodicInformEnable", m.TypedValue("5", m.XsdType.INT)),
    )
    assert fault_code(answer) == 9003
    per = {f.parameter_name: f.fault_code for f in answer.set_parameter_values_faults}
    assert per == {
        "Device.DeviceInfo.SerialNumber": 9008,
        "Device.Services.STBService.1.Components.HDMI.1.ResolutionValue": 9007,
        "Device.Services.STBService.1.Components.AudioOutput.2.AudioLevel": 9007,
        "Device.DeviceInfo.NoSuch": 9005,
        "Device.ManagementServer.PeriodicInformEnable": 9006,
    }
    assert values(box, audio)[audio] == before
    assert box.model.shares_template  # nothing was written


def test_set_values_applies_sets_parameter_key_and_reads_back():
    box = make_box()
    hdmi = "Device.Services.STBService.1.Components.HDMI.1."
    answer = spv(
        box,
        (hdmi + "ResolutionMode", "Manual"),
        (hdmi + "ResolutionValue", "1280x720p/50Hz"),
        ("Device.ManagementServer.PeriodicInformEnable", m.TypedValue("0", m.XsdType.BOOLEAN)),
        key="task-7",
    )
    assert answer == m.SetParameterValuesResponse(0)
    got = values(box, hdmi, "Device.ManagementServer.")
    assert got[hdmi + "ResolutionValue"] == "1280x720p/50Hz"
    assert got["Device.ManagementServer.PeriodicInformEnable"] == "false"
    assert got["Device.ManagementServer.ParameterKey"] == "task-7"
    assert box.periodic_interval() is None
    assert box.take_after().periodic_changed


def test_set_values_rejects_duplicates_and_checks_enumerations():
    box = make_box()
    level = "Device.Services.STBService.1.Components.AudioOutput.1.AudioLevel"
    assert fault_code(spv(box, (level, "1"), (level, "2"))) == 9003
    video = "Device.Services.STBService.1.Components.VideoOutput.1.DisplayFormat"
    assert fault_code(spv(box, (video, "21:9"))) == 9003
    assert spv(box, (video, "4:3")) == m.SetParameterValuesResponse(0)


def test_credentials_changed_by_the_acs_are_used_next():
    box = make_box(username="boot", password="boot")
    spv(
        box,
        ("Device.ManagementServer.Username", "dev-1"),
        ("Device.ManagementServer.Password", "pw-1"),
        ("Device.ManagementServer.ConnectionRequestPassword", "cr-pw"),
    )
    assert box.credentials() == ("dev-1", "pw-1")
    assert box.cr_credentials() == ("00000001", "cr-pw")


def test_changing_the_acs_url_means_bootstrap():
    box = make_box()
    assert spv(box, ("Device.ManagementServer.URL", "ftp://nope")).fault_code == 9003
    spv(box, ("Device.ManagementServer.URL", "https://other-acs.example/cwmp"))
    assert box.take_after().bootstrap
    assert box.acs_url() == "https://other-acs.example/cwmp"


# --- attributes -----------------------------------------------------------------------------------


def test_attributes_set_get_partial_path_and_denied_active():
    box = make_box()
    answer = rpc(
        box,
        m.SetParameterAttributes(
            (
                m.ParameterAttributeChange("Device.DeviceInfo.ProvisioningCode", True, 2),
                m.ParameterAttributeChange(
                    "Device.ManagementServer.", True, 1, True, ("Subscriber",)
                ),
            )
        ),
    )
    assert answer == m.SetParameterAttributesResponse()
    got = rpc(
        box,
        m.GetParameterAttributes(
            ("Device.DeviceInfo.ProvisioningCode", "Device.ManagementServer.URL")
        ),
    )
    assert [(a.name, a.notification, a.access_list) for a in got.parameters] == [
        ("Device.DeviceInfo.ProvisioningCode", 2, ()),
        ("Device.ManagementServer.URL", 1, ("Subscriber",)),
    ]
    denied = m.ParameterAttributeChange("Device.DeviceInfo.UpTime", True, 2)
    assert fault_code(rpc(box, m.SetParameterAttributes((denied,)))) == 9009
    bad = m.ParameterAttributeChange("Device.DeviceInfo.ProvisioningCode", True, 7)
    assert fault_code(rpc(box, m.SetParameterAttributes((bad,)))) == 9003
    unknown = m.ParameterAttributeChange("Device.Nope", True, 1)
    assert fault_code(rpc(box, m.SetParameterAttributes((unknown,)))) == 9005


def test_active_notification_of_a_local_change_makes_a_value_change_inform():
    box = make_box()
    rpc(box, m.SetParameterAttributes((m.ParameterAttributeChange(CONSENT, True, 2),)))
    box.inform_delivered(tuple(box.events))
    box.local_change(CONSENT, "true")  # the user allowed it on the TV
    inform, events = box.build_inform()
    assert m.EventStruct("4 VALUE CHANGE") in events
    assert (CONSENT, "true") in [(p.name, p.value.text) for p in inform.parameters]
    box.inform_delivered(events)
    inform, _ = box.build_inform()
    assert CONSENT not in [p.name for p in inform.parameters]


# --- objects --------------------------------------------------------------------------------------


def test_add_and_delete_folders_instance_numbers_never_reused():
    box = make_box()
    table = VOLUME + "Folder."
    added = rpc(box, m.AddObject(table, "add-1"))
    assert added == m.AddObjectResponse(4, 0)
    assert values(box, f"{table}4.Name")[f"{table}4.Name"] == "folder"
    assert rpc(box, m.DeleteObject(f"{table}4.", "del-1")) == m.DeleteObjectResponse(0)
    assert rpc(box, m.AddObject(table)).instance_number == 5
    assert fault_code(rpc(box, m.GetParameterValues((f"{table}4.",)))) == 9005
    assert (
        values(box, "Device.ManagementServer.ParameterKey")["Device.ManagementServer.ParameterKey"]
        == ""
    )


def test_object_faults():
    box = make_box()
    assert fault_code(rpc(box, m.AddObject(PUSH + "Content.Item."))) == 9005  # not addable
    assert fault_code(rpc(box, m.AddObject(VOLUME + "Folder.1."))) == 9005  # an instance
    assert fault_code(rpc(box, m.AddObject("Device.Nope."))) == 9005
    assert fault_code(rpc(box, m.DeleteObject(VOLUME))) == 9005  # volumes are fixed
    assert fault_code(rpc(box, m.DeleteObject("Device.DeviceInfo."))) == 9005
    assert fault_code(rpc(box, m.DeleteObject(PUSH_FOLDER))) == 9001  # referenced by CDS push
    for _ in range(13):
        rpc(box, m.AddObject(VOLUME + "Folder."))
    assert fault_code(rpc(box, m.AddObject(VOLUME + "Folder."))) == 9004


def _used(box: Box, folder: str) -> int:
    return int(values(box, folder + "Quota.UsedSpace")[folder + "Quota.UsedSpace"])


def test_deleting_a_push_content_item_frees_its_space_in_both_views():
    box = make_box()
    item = PUSH + "Content.Item.1."
    size = int(values(box, item + "Size")[item + "Size"])
    used_before = _used(box, PUSH_FOLDER)
    volume_before = int(values(box, VOLUME + "UsedSpace")[VOLUME + "UsedSpace"])
    assert rpc(box, m.DeleteObject(item)) == m.DeleteObjectResponse(0)
    assert abs((used_before - _used(box, PUSH_FOLDER)) - size / MB) <= 1
    assert int(values(box, VOLUME + "UsedSpace")[VOLUME + "UsedSpace"]) < volume_before
    assert fault_code(rpc(box, m.GetParameterValues((APP_PUSH + "ContentItem.1.",)))) == 9005
    # TR-135's DeleteItem does the same from the other view.
    assert spv(
        box, (APP_PUSH + "ContentItem.2.DeleteItem", "true")
    ) == m.SetParameterValuesResponse(0)
    assert fault_code(rpc(box, m.GetParameterValues((PUSH + "Content.Item.2.",)))) == 9005
    other = make_box("00000002")  # the shared template was not touched
    assert other.model.has_param(item + "Size")


def test_pull_storage_needs_the_users_consent():
    box = make_box(consent=0.0)
    assert values(box, CONSENT)[CONSENT] == "false"
    everything = values(box, "Device.")
    assert not any(
        n.startswith((PULL + "Content.", APP_PULL + "ContentItem.", PULL_FOLDER + "Quota."))
        for n in everything
    )
    assert PULL + "Reference" in everything
    assert fault_code(rpc(box, m.GetParameterValues((PULL + "Content.",)))) == 9001
    assert fault_code(spv(box, (PULL_FOLDER + "Quota.Capacity", "1000"))) == 9001
    box.local_change(CONSENT, "true")
    assert values(box, PULL + "Content.")  # now listed
    items = box.model.instances(PULL + "Content.Item.")
    if items:
        box.local_change(CONSENT, "false")
        assert fault_code(rpc(box, m.DeleteObject(f"{PULL}Content.Item.{items[0]}."))) == 9001
        box.local_change(CONSENT, "true")
        assert rpc(
            box, m.DeleteObject(f"{PULL}Content.Item.{items[0]}.")
        ) == m.DeleteObjectResponse(0)
    assert spv(box, (PULL_FOLDER + "Quota.Capacity", "60000")) == m.SetParameterValuesResponse(0)


def test_folder_quota_cannot_go_below_use_or_beyond_the_volume():
    box = make_box()
    used = _used(box, PUSH_FOLDER)
    assert used > 0
    assert fault_code(spv(box, (PUSH_FOLDER + "Quota.Capacity", str(used - 1)))) == 9003
    assert fault_code(spv(box, (PUSH_FOLDER + "Quota.Capacity", "490000"))) == 9003
    assert spv(
        box, (PUSH_FOLDER + "Quota.Capacity", str(used + 10))
    ) == m.SetParameterValuesResponse(0)
    spv(box, (PUSH_FOLDER + "Quota.ThresholdLimit", "20"))
    assert (
        values(box, PUSH_FOLDER + "Quota.ThresholdReached")[PUSH_FOLDER + "Quota.ThresholdReached"]
        == "true"
    )
    assert fault_code(spv(box, (VOLUME + "Capacity", "1"))) == 9003


# --- box RPCs -------------------------------------------------------------------------------------


def test_box_rpcs_and_their_faults():
    box = make_box()
    methods = rpc(box, m.GetRPCMethods())
    assert "Download" in methods.methods and "FactoryReset" in methods.methods
    assert rpc(box, m.Reboot("r1")) == m.RebootResponse()
    assert rpc(box, m.FactoryReset()) == m.FactoryResetResponse()
    assert rpc(box, m.ScheduleInform(30, "s1")) == m.ScheduleInformResponse()
    assert fault_code(rpc(box, m.ScheduleInform(0, "s2"))) == 9003
    ok = m.Download("d1", "1 Firmware Upgrade Image", "http://fus.example/a.img")
    assert rpc(box, ok) == m.DownloadResponse(1)
    assert (
        fault_code(rpc(box, m.Download("d2", "3 Vendor Configuration File", "http://x/c"))) == 9003
    )
    assert (
        fault_code(rpc(box, m.Download("d3", "1 Firmware Upgrade Image", "ftp://x/a.img"))) == 9013
    )
    rpc(box, ok)
    rpc(box, ok)
    assert fault_code(rpc(box, ok)) == 9004
    assert fault_code(rpc(box, m.UnknownMethod("X_VENDOR_Frobnicate"))) == 9000
    after = box.take_after()
    assert after.reboot == "r1" and after.factory_reset and after.schedule == [(30, "s1")]
    assert len(after.downloads) == 3


def test_factory_reset_restores_factory_values_and_bootstraps():
    box = make_box(username="u{serial}", password="p")
    spv(box, ("Device.ManagementServer.Username", "changed"))
    box.inform_delivered(tuple(box.events))
    box.factory_reset()
    box.power_on()
    assert box.credentials() == ("u00000001", "p")
    assert [e.event_code for e in box.build_inform()[1]] == ["0 BOOTSTRAP", "1 BOOT"]


@pytest.mark.parametrize("namespace", [CWMP_1_0, CWMP_1_2])
def test_every_answer_encodes_and_parses(namespace):
    box = make_box()
    requests = [
        m.GetRPCMethods(),
        m.GetParameterNames("Device.", False),
        m.GetParameterValues(("Device.",)),
        m.SetParameterValues(
            (m.ParameterValue("Device.DeviceInfo.SerialNumber", m.TypedValue("x")),)
        ),
        m.GetParameterAttributes(("Device.DeviceInfo.",)),
        m.SetParameterAttributes(
            (m.ParameterAttributeChange("Device.DeviceInfo.ProvisioningCode", True, 1),)
        ),
        m.AddObject(VOLUME + "Folder."),
        m.DeleteObject(VOLUME + "Folder.1."),
        m.Reboot(),
        m.FactoryReset(),
        m.ScheduleInform(5),
        m.Download("k", "1 Firmware Upgrade Image", "http://x/y"),
    ]
    for request in requests:
        answer = rpc(box, request)
        data = write_envelope(answer, cwmp_id="7", namespace=namespace)
        assert parse_envelope(data).message == answer
    inform, _ = box.build_inform()
    assert (
        parse_envelope(write_envelope(inform, cwmp_id="1", namespace=namespace)).message == inform
    )


def test_retry_backoff_follows_tr069_wait_intervals():
    box = make_box()
    box.retries = 1
    assert 5 <= box.retry_delay(0.0) <= box.retry_delay(0.999) <= 10
    box.retries = 3
    assert box.retry_delay(0.0) == 20
    box.retries = 30
    assert box.retry_delay(1.0) == 5 * 2**10
