"""RMS-FUS and unmanaged delivery: the gate (what the QRC and the carousels may offer), outcomes
from Informs, AutonomousTransferComplete and update reports, boxes outside the inventory."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acs.cwmp import messages as m
from acs.models import Device
from acs.services import tasks as task_services
from fus.metadata import model as mm
from fus.metadata.targeting import DeviceIdentity
from fus.models import Rollout, RolloutDevice, UpdateReport
from fus.rollouts import engine, gate, services
from fus.rollouts.choices import Assignment, Channel, RolloutStatus
from tests.fus.rollouts.helpers import Clock, create

pytestmark = pytest.mark.django_db

UNMANAGED = [Channel.UNMANAGED.value]
AUTONOMOUS = [Channel.AUTONOMOUS.value]


def identity(serial: str, oui="00D09E", product_class="A-STB") -> DeviceIdentity:
    return DeviceIdentity(oui, product_class, "1.0", "1.0.0", serial)


def report(package, serial: str, code: int = 0, text: str = "") -> UpdateReport:
    return UpdateReport.objects.create(
        manufacturer=package.manufacturer,
        device_class=package.device_classes.get(),
        package=package,
        oui="00D09E",
        product_class="A-STB",
        serial_number=serial,
        from_version="1.0.0",
        to_version=package.software_version,
        result_code=code,
        result="success" if code == 0 else "failure",
        result_text=text,
    )


def test_packages_without_rollouts_are_not_gated(package, fleet):
    assert gate.allowed(package, identity("000001"))
    assert gate.announcement(package).governed is False
    assert gate.released_q(package) is None


def test_serial_waves_widen_the_released_ranges(package, fleet, tenants):
    clock = Clock()
    rollout = create(
        package,
        tenants["noc"],
        channels=UNMANAGED,
        assignment=Assignment.SERIAL,
        stages=[{"count": 10}, {"percent": 40}, {"percent": 100}],
    )
    # governed as soon as a rollout exists: nothing offered before it releases anything
    assert not gate.allowed(package, identity("000001"))
    assert gate.announced_target_devices(package) is None
    services.start_rollout(rollout, actor=tenants["noc"])
    clock.tick(rollout)
    ann = gate.announcement(package)
    assert ann.ranges == {("00D09E", "A-STB"): (("000001", "000010"),)}
    assert ann.range_list("00d09e", "A-STB") == mm.RangeList((mm.Range("000001", "000010"),))
    assert gate.allowed(package, identity("000007"))
    assert gate.allowed(package, identity("7"))  # the serial ordering: leading zeros ignored
    assert not gate.allowed(package, identity("000011"))
    assert not gate.allowed(package, identity("000007", product_class="OTHER"))
    assert Device.objects.filter(gate.released_q(package)).count() == 10
    # outcomes of the canary by update reports; a box outside the inventory is added
    for i in range(1, 11):
        report(package, f"{i:06d}")
    clock.tick(rollout)
    assert RolloutDevice.objects.filter(rollout=rollout, state="succeeded").count() == 10
    clock.tick(rollout)  # canary done: wave 1 (40 boxes) released
    assert gate.announcement(package).ranges[("00D09E", "A-STB")] == (("000001", "000050"),)
    target = gate.announced_target_devices(package)
    (group,) = target.device_groups
    assert group.range_list == mm.RangeList((mm.Range("000001", "000050"),))
    # pause withdraws the announcement, resume gives it back
    services.pause_rollout(rollout, actor=tenants["noc"])
    assert not gate.allowed(package, identity("000020"))
    assert gate.announcement(package).nothing
    services.resume_rollout(rollout, actor=tenants["noc"])
    assert gate.allowed(package, identity("000020"))


def test_the_last_wave_releases_everyone_including_unknown_boxes(package, tenants):
    from tests.fus.rollouts.conftest import make_fleet

    make_fleet(tenants["dc_a"], 4)
    clock = Clock()
    rollout = create(package, tenants["noc"], channels=UNMANAGED, stages=[{"percent": 100}])
    services.start_rollout(rollout, actor=tenants["noc"])
    clock.tick(rollout)
    assert gate.allowed(package, identity("999999"))  # not in the inventory
    assert (
        gate.released_q(package) is not None
        and Device.objects.filter(gate.released_q(package)).count() == 4
    )
    # a report of a box the inventory does not know becomes a member
    report(package, "777777", code=9010, text="image signature invalid")
    clock.tick(rollout)
    unknown = RolloutDevice.objects.get(rollout=rollout, serial_number="777777")
    assert unknown.device is None and unknown.state == "failed" and unknown.confirmed
    assert unknown.fault_code == 9010 and unknown.detail == "image signature invalid"
    # the end of the validity window withdraws everything
    Rollout.objects.filter(pk=rollout.pk).update(end_at=clock.now + timedelta(minutes=1))
    assert not gate.allowed(package, identity("999999"), at=clock.now + timedelta(minutes=2))


def test_spread_ranges_stop_at_unreleased_boxes(package, fleet, tenants):
    clock = Clock()
    rollout = create(
        package, tenants["noc"], channels=UNMANAGED, stages=[{"count": 10}, {"percent": 100}]
    )
    services.start_rollout(rollout, actor=tenants["noc"])
    clock.tick(rollout)
    released = set(
        RolloutDevice.objects.filter(rollout=rollout, wave=0).values_list(
            "serial_number", flat=True
        )
    )
    for i in range(1, 101):
        serial = f"{i:06d}"
        assert gate.allowed(package, identity(serial)) is (serial in released), serial


def test_autonomous_outcomes_from_informs_and_transfer_faults(package, fleet, tenants):
    clock = Clock()
    rollout = create(
        package,
        tenants["noc"],
        channels=AUTONOMOUS,
        stages=[{"count": 10}, {"percent": 100}],
        failure_threshold=50,
        min_sample=20,
        success_threshold=0,
    )
    services.start_rollout(rollout, actor=tenants["noc"])
    result = clock.tick(rollout)
    assert result.admitted == 10 and result.dispatched == 0
    canary = list(RolloutDevice.objects.filter(rollout=rollout, wave=0).select_related("device"))
    for row in canary[:7]:  # upgraded on their own: the next Inform reports the version
        Device.objects.filter(pk=row.device_id).update(software_version="2.0.0")
    for row in canary[7:]:
        task_services.autonomous_transfer_complete(
            row.device,
            m.AutonomousTransferComplete(
                "",
                "http://fus/x.bin",
                True,
                "1 Firmware Upgrade Image",
                10,
                "x.bin",
                m.TransferFault(9010, "Download failure"),
                clock.now,
                clock.now,
            ),
            now=clock.now,
        )
    result = clock.tick(rollout)
    assert result.collected == 10
    failed = RolloutDevice.objects.filter(rollout=rollout, state="failed")
    assert set(failed.values_list("source", "fault_code")) == {("autonomous", 9010)}
    assert set(failed.values_list("device", flat=True)) == {r.device_id for r in canary[7:]}
    # the canary is done (70% >= the 0% criterion): the rest is released and admitted
    assert result.released == [1] and result.admitted == 90
    counts = {k: v for k, v in engine.state_counts(rollout).items() if v}
    assert counts == {"succeeded": 7, "failed": 3, "in_flight": 90}


def test_halt_withdraws_the_announcement(package, fleet, tenants):
    clock = Clock()
    rollout = create(
        package,
        tenants["noc"],
        channels=UNMANAGED,
        assignment=Assignment.SERIAL,
        stages=[{"count": 10}, {"percent": 100}],
        min_sample=5,
        failure_threshold=20,
    )
    services.start_rollout(rollout, actor=tenants["noc"])
    clock.tick(rollout)
    for i in range(1, 6):
        report(package, f"{i:06d}", code=9010 if i <= 2 else 0)
    result = clock.tick(rollout)
    assert result.halted.startswith("Stop rule: 2 of 5")
    assert Rollout.objects.get(pk=rollout.pk).status == RolloutStatus.HALTED
    assert not gate.allowed(package, identity("000003"))
    assert gate.announced_target_devices(package) is None


def test_a_report_of_a_box_planned_in_a_later_wave_waits_for_its_wave(package, fleet, tenants):
    """Members are written when their wave is released: a report from an inventory box of a
    wave not released yet is not taken for a box outside the inventory."""
    clock = Clock()
    rollout = create(
        package,
        tenants["noc"],
        channels=UNMANAGED,
        assignment=Assignment.SERIAL,
        stages=[{"count": 10}, {"percent": 100}],
    )
    services.start_rollout(rollout, actor=tenants["noc"])
    clock.tick(rollout)
    report(package, "000050")  # planned in the last wave
    report(package, "888888")  # outside the inventory, in no released range
    clock.tick(rollout)
    assert not RolloutDevice.objects.filter(rollout=rollout, serial_number="000050").exists()
    outsider = RolloutDevice.objects.get(rollout=rollout, serial_number="888888")
    assert outsider.device is None and outsider.wave == 0
    # its wave released later, the box is written with its device
    for i in range(1, 11):
        report(package, f"{i:06d}")
    clock.tick(rollout)
    clock.tick(rollout)
    member = RolloutDevice.objects.get(rollout=rollout, serial_number="000050")
    assert member.device is not None and member.wave == 1
