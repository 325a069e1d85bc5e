"""cpesim's flash (`--state FILE`): a box keeps its firmware and the credentials the ACS gave it
across restarts of the simulator, as a real box keeps them across power cycles. Without it a
restarted demo fleet would come back with the bootstrap credentials, which the ACS rightly refuses
for boxes that have their own."""

from __future__ import annotations

import json

import pytest

from cpesim.cli import main
from cpesim.fleet import Fleet, FleetConfig, Group
from cpesim.profiles import DeviceSpec

SPEC = DeviceSpec("00D09E", "A-STB", manufacturer="Alpha")
MS = "Device.ManagementServer."


def _fleet(**config) -> Fleet:
    return Fleet(FleetConfig(acs_url="http://acs.invalid/cwmp", **config), [Group(SPEC, 2, 1)])


def test_flash_round_trips_firmware_credentials_and_bootstrap(tmp_path):
    fleet = _fleet(username="boot", password="strap")
    box = fleet.boxes[0]
    box.install("2.0.0")
    box.model.put(MS + "Username", "00D09E-A-STB-00000001")
    box.model.put(MS + "Password", "own-secret")
    box.bootstrapped = True
    path = tmp_path / "state.json"
    fleet.save_state(path)

    again = _fleet(username="boot", password="strap")
    assert again.load_state(path) == 2
    restored, untouched = again.boxes
    assert restored.software_version == "2.0.0"
    assert restored.credentials() == ("00D09E-A-STB-00000001", "own-secret")
    assert restored.bootstrapped
    restored.power_on()
    assert [e.event_code for e in restored.events] == ["1 BOOT"]  # no new BOOTSTRAP
    assert untouched.credentials() == ("boot", "strap") and not untouched.bootstrapped


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[]", json.dumps({"version": 2, "boxes": {}}).encode(), b'{"version": 1}'],
)
def test_a_file_that_is_not_a_state_file_is_refused_naming_it(tmp_path, content):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"state\.json"):
        _fleet().load_state(path)


def test_malformed_entries_are_ignored(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(
        json.dumps({"version": 1, "boxes": {"00D09E-00000001": {"values": ["x"]}, "other": 3}})
    )
    fleet = _fleet()
    assert fleet.load_state(path) == 1
    assert fleet.boxes[0].software_version == "1.0.0"


def test_the_command_line_refuses_a_bad_state_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{")
    argv = ["--acs", "http://127.0.0.1:9/cwmp", "--no-listener", "--count", "1"]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--state", str(path)])
    assert "--state" in str(exit_.value) and "state.json" in str(exit_.value)


@pytest.mark.django_db(transaction=True)
def test_a_restarted_fleet_logs_in_with_the_credentials_the_acs_gave_it(
    tenants, live_server, settings, tmp_path
):
    """Digest with bootstrap credentials: the first run is given its own credentials; the second
    run, from the state file, logs in with those (the bootstrap ones would be refused)."""
    from acs.models import Device

    settings.CWMP_AUTH = "digest"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CWMP_BOOTSTRAP_USERNAME = "fleet-boot"
    settings.CWMP_BOOTSTRAP_PASSWORD = "fleet-boot-secret"
    state = tmp_path / "state.json"
    argv = ["--acs", f"{live_server.url}/cwmp", "--no-listener", "--ramp", "0"]
    argv += ["--username", "fleet-boot", "--password", "fleet-boot-secret"]
    argv += ["--group", "00D09E:A-STB:2:1:1.0.0", "--concurrency", "1"]
    argv += ["--duration", "3", "--stats-interval", "1", "--state", str(state)]
    assert main(argv) == 0
    assert Device.objects.exclude(cwmp_username="").count() == 2  # own credentials active
    saved = json.loads(state.read_text())["boxes"]
    assert {b["values"][MS + "Username"] for b in saved.values()} == {
        "00D09E-A-STB-00000001",
        "00D09E-A-STB-00000002",
    }
    informs = {d.pk: d.last_inform for d in Device.objects.all()}

    assert main(argv) == 0  # restarted: BOOT with its own credentials
    for device in Device.objects.all():
        assert device.last_inform > informs[device.pk]
        assert device.cwmp_username == f"00D09E-A-STB-{device.serial_number}"
