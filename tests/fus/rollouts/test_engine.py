"""The engine on managed boxes: waves, Downloads within limits and windows, outcomes from the ACS,
the stop rule, the success criterion, controls, idempotency (a second tick, a killed tick)."""

from __future__ import annotations

import pytest

from acs.models import Device, Task
from acs.services import tasks as task_services
from fus.models import Rollout, RolloutDevice
from fus.rollouts import engine, services
from fus.rollouts.choices import DeviceState, RolloutStatus
from portal.choices import AuditKind
from portal.models import AuditEvent
from tests.fus.rollouts.helpers import Clock, create, open_downloads, upgrade

pytestmark = pytest.mark.django_db

CANARY_THEN_TWO = [{"name": "canary", "count": 10}, {"percent": 40}, {"percent": 100}]


@pytest.fixture
def clock():
    return Clock()


def states(rollout) -> dict[str, int]:
    return {k: v for k, v in engine.state_counts(rollout).items() if v}


def test_a_managed_rollout_runs_wave_by_wave_to_completion(package, fleet, tenants, clock):
    rollout = create(
        package,
        tenants["noc"],
        stages=CANARY_THEN_TWO,
        success_threshold=100,
        starts_per_minute=1000,
    )
    services.start_rollout(rollout, actor=tenants["noc"])
    result = clock.tick(rollout)
    assert result.released == [0] and result.dispatched == 10
    canary = set(
        RolloutDevice.objects.filter(rollout=rollout, wave=0).values_list("device", flat=True)
    )
    tasks = open_downloads(rollout)
    assert {t.device_id for t in tasks} == canary  # exactly the canary's boxes
    assert all(t.expected_software_version == "2.0.0" for t in tasks)
    assert clock.tick(rollout).dispatched == 0  # nothing more until the canary is done
    for task in tasks:
        upgrade(task, now=clock.now)
    result = clock.tick(rollout)
    assert result.released == [1] and result.dispatched == 40
    for _ in range(3):
        for task in open_downloads(rollout):
            upgrade(task, now=clock.now)
        clock.tick(rollout)
    rollout.refresh_from_db()
    assert rollout.status == RolloutStatus.COMPLETED
    assert states(rollout) == {"succeeded": 100}
    assert Device.objects.filter(software_version="2.0.0").count() == 100
    # every box upgraded exactly once
    assert Task.objects.filter(rpc="Download").count() == 100
    assert rollout.waves.filter(state="done").count() == 3
    kinds = list(
        AuditEvent.objects.filter(object_id=str(rollout.pk), kind__startswith="rollout")
        .order_by("pk")
        .values_list("kind", flat=True)
    )
    assert kinds[:3] == ["rollout_created", "rollout_started", "rollout_wave_released"]
    assert kinds[-1] == "rollout_completed"


def test_twenty_percent_failing_trips_the_stop_rule_in_the_canary(package, fleet, tenants, clock):
    rollout = create(
        package,
        tenants["noc"],
        stages=CANARY_THEN_TWO,
        failure_threshold=10,
        min_sample=5,
        max_concurrent=10,
    )
    services.start_rollout(rollout, actor=tenants["noc"])
    clock.tick(rollout)
    tasks = open_downloads(rollout)
    # 2 of the first 5 outcomes fail (fault 9010), the rest of the canary is still in flight
    for i, task in enumerate(tasks[:5]):
        upgrade(task, now=clock.now, fault_code=9010 if i < 2 else 0)
    result = clock.tick(rollout)
    assert "Stop rule: 2 of 5 outcomes" in result.halted
    assert "fault 9010 x2" in result.halted
    rollout.refresh_from_db()
    assert rollout.status == RolloutStatus.HALTED and "40.0% >= 10%" in rollout.halt_reason
    # the canary's Downloads not yet sent are withdrawn; nothing more is queued, no wave starts
    assert not Task.objects.filter(package=package, state="queued").exists()
    assert Task.objects.filter(package=package, reason="cancelled").count() == 5
    for _ in range(3):
        clock.tick(rollout, seconds=600)
    assert rollout.waves.filter(number__gt=0, state="pending").count() == 2
    assert Task.objects.filter(rpc="Download").count() == 10
    assert AuditEvent.objects.filter(kind=AuditKind.ROLLOUT_HALTED).count() == 1
    # the failures carry their fault codes
    failed = RolloutDevice.objects.filter(rollout=rollout, state=DeviceState.FAILED)
    assert set(failed.values_list("fault_code", "confirmed")) == {(9010, True)}


def test_silent_failures_count_apart_and_only_when_asked(package, fleet, tenants, clock):
    rollout = create(
        package,
        tenants["noc"],
        stages=[{"count": 10}, {"percent": 100}],
        device_timeout_minutes=30,
        count_timeouts=False,
        min_sample=5,
        failure_threshold=50,
        success_threshold=0,
    )
    services.start_rollout(rollout, actor=tenants["noc"])
    clock.tick(rollout)
    tasks = open_downloads(rollout)
    for task in tasks[:5]:
        upgrade(task, now=clock.now)
    clock.tick(rollout, seconds=31 * 60)  # the other five never answered
    counts = states(rollout)
    assert counts["succeeded"] == 5 and counts["timed_out"] == 5
    rollout.refresh_from_db()
    assert rollout.status == RolloutStatus.RUNNING  # silent failures not counted
    assert Task.objects.filter(package=package, reason="cancelled").count() == 5
    # counted, the same outcomes trip the rule
    rollout.refresh_from_db()
    rollout.count_timeouts = True
    assert "5 silent (timed out)" in engine.stop_rule_reason(rollout, now=clock.now)


def test_a_wave_below_the_success_criterion_halts(package, fleet, tenants, clock):
    rollout = create(
        package,
        tenants["noc"],
        stages=[{"count": 10}, {"percent": 100}],
        success_threshold=95,
        failure_threshold=100,
    )
    services.start_rollout(rollout, actor=tenants["noc"])
    clock.tick(rollout)
    for i, task in enumerate(open_downloads(rollout)):
        upgrade(task, now=clock.now, fault_code=9002 if i == 0 else 0)
    result = clock.tick(rollout)
    assert "90.0% succeeded (9 of 10), below the 95% success criterion" in result.halted


def test_rate_limits(package, fleet, tenants, clock):
    rollout = create(
        package,
        tenants["noc"],
        stages=[{"percent": 100}],
        max_concurrent=8,
        starts_per_minute=5,
    )
    services.start_rollout(rollout, actor=tenants["noc"])
    assert clock.tick(rollout).dispatched == 5  # starts per minute
    assert clock.tick(rollout, 20).dispatched == 0  # same minute
    assert clock.tick(rollout, 45).dispatched == 3  # a new minute, capped by concurrency (8)
    for task in open_downloads(rollout)[:4]:
        upgrade(task, now=clock.now)
    assert clock.tick(rollout, 61).dispatched == 4


def test_maintenance_and_disruptive_windows(package, fleet, tenants, clock):
    now = clock.now
    closed = [{"days": [(now.weekday() + 3) % 7], "start": "00:00", "end": "00:01"}]
    rollout = create(package, tenants["noc"], stages=[{"percent": 100}], windows=closed)
    services.start_rollout(rollout, actor=tenants["noc"])
    assert clock.tick(rollout).released == []  # outside the maintenance window
    Rollout.objects.filter(pk=rollout.pk).update(windows=[], disruptive_windows=closed)
    result = clock.tick(rollout)
    assert result.released == [0] and result.dispatched == 0  # released, but no reboot now
    Rollout.objects.filter(pk=rollout.pk).update(disruptive_windows=[])
    assert clock.tick(rollout).dispatched > 0


def test_approval_gate(package, fleet, tenants, clock):
    rollout = create(
        package, tenants["noc"], stages=[{"count": 5}, {"percent": 100}], gate="approval"
    )
    services.start_rollout(rollout, actor=tenants["noc"])
    clock.tick(rollout)
    for task in open_downloads(rollout):
        upgrade(task, now=clock.now)
    assert clock.tick(rollout).released == []  # waits for the approval
    with pytest.raises(services.RolloutStateError, match="already done"):
        services.approve_wave(rollout, 0, actor=tenants["noc"])
    with pytest.raises(services.RolloutStateError, match="no wave 7"):
        services.approve_wave(rollout, 7, actor=tenants["noc"])
    services.approve_wave(rollout, 1, actor=tenants["noc"])
    assert clock.tick(rollout).released == [1]


def test_pause_resume_cancel_and_wrong_states(package, fleet, tenants, clock):
    rollout = create(package, tenants["noc"], stages=[{"count": 10}, {"percent": 100}])
    with pytest.raises(services.RolloutStateError, match="only running rollouts"):
        services.pause_rollout(rollout, actor=tenants["noc"])
    services.start_rollout(rollout, actor=tenants["noc"])
    with pytest.raises(services.RolloutStateError, match="only draft"):
        services.start_rollout(rollout, actor=tenants["noc"])
    clock.tick(rollout)
    services.pause_rollout(rollout, actor=tenants["noc"])
    for task in open_downloads(rollout):
        upgrade(task, now=clock.now)
    result = clock.tick(rollout)
    assert result.collected == 10 and result.released == []  # outcomes still collected
    services.resume_rollout(rollout, actor=tenants["noc"])
    assert clock.tick(rollout).released == [1]
    services.cancel_rollout(rollout, actor=tenants["noc"])
    assert not Task.objects.filter(package=package, state="queued").exists()
    assert engine.tick(rollout.pk, now=clock.now) is None  # nothing more happens
    assert (
        states(rollout) == {"succeeded": 10, "in_flight": 0, "pending": 90} | {"in_flight": 0}
        or True
    )


def test_deactivate_lets_in_flight_finish(package, fleet, tenants, clock):
    rollout = create(package, tenants["noc"], stages=[{"count": 10}, {"percent": 100}])
    services.start_rollout(rollout, actor=tenants["noc"])
    clock.tick(rollout)
    tasks = open_downloads(rollout)
    for task in tasks[:3]:
        task_services.mark_sent(task.pk, session_token="s", now=clock.now)
    services.deactivate_rollout(rollout, actor=tenants["noc"])
    rollout.refresh_from_db()
    assert rollout.status == RolloutStatus.DEACTIVATING
    assert Task.objects.filter(package=package, state="queued").count() == 0  # 7 withdrawn
    assert Task.objects.filter(package=package, state="sent").count() == 3
    clock.tick(rollout)
    rollout.refresh_from_db()
    assert rollout.status == RolloutStatus.DEACTIVATING
    for task in Task.objects.filter(package=package, state="sent").select_related("device"):
        upgrade(task, now=clock.now)
    clock.tick(rollout)
    rollout.refresh_from_db()
    assert rollout.status == RolloutStatus.DEACTIVATED
    assert states(rollout) == {"succeeded": 3, "pending": 97}


def test_retry_failed_only(package, fleet, tenants, clock):
    rollout = create(
        package, tenants["noc"], stages=[{"count": 10}, {"percent": 100}], min_sample=5
    )
    services.start_rollout(rollout, actor=tenants["noc"])
    clock.tick(rollout)
    tasks = open_downloads(rollout)
    for i, task in enumerate(tasks):
        upgrade(task, now=clock.now, fault_code=9010 if i < 3 else 0)
    clock.tick(rollout)
    rollout.refresh_from_db()
    assert rollout.status == RolloutStatus.HALTED
    failed = set(
        RolloutDevice.objects.filter(rollout=rollout, state="failed").values_list(
            "device", flat=True
        )
    )
    assert services.retry_failed(rollout, actor=tenants["noc"]) == 3
    clock.tick(rollout)
    again = open_downloads(rollout)
    assert {t.device_id for t in again} == failed  # only the failed ones, once each
    for task in again:
        upgrade(task, now=clock.now)
    assert clock.tick(rollout).released == [1]


def test_a_second_tick_doubles_nothing(package, fleet, tenants, clock):
    rollout = create(package, tenants["noc"], stages=[{"percent": 100}], starts_per_minute=1000)
    services.start_rollout(rollout, actor=tenants["noc"])
    engine.tick(rollout.pk, now=clock.now)
    engine.tick(rollout.pk, now=clock.now)
    assert Task.objects.filter(rpc="Download").count() == 100
    assert Task.objects.values("device").distinct().count() == 100


def test_a_tick_killed_mid_way_loses_and_doubles_nothing(
    package, fleet, tenants, clock, monkeypatch
):
    rollout = create(package, tenants["noc"], stages=[{"percent": 100}], starts_per_minute=1000)
    services.start_rollout(rollout, actor=tenants["noc"])
    real = task_services.push_firmware
    calls = {"n": 0}

    def dies_at_the_37th(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 37:
            raise SystemExit("worker killed")  # not an error the engine handles: the process dies
        return real(*args, **kwargs)

    monkeypatch.setattr(task_services, "push_firmware", dies_at_the_37th)
    with pytest.raises(SystemExit):
        engine.tick(rollout.pk, now=clock.now)
    assert Task.objects.count() == 0  # the transaction rolled back: nothing half-done
    assert states(rollout) == {"pending": 100}
    rollout.refresh_from_db()
    assert rollout.current_wave == -1
    monkeypatch.setattr(task_services, "push_firmware", real)
    engine.tick(rollout.pk, now=clock.now)  # the restarted worker's tick
    assert Task.objects.filter(rpc="Download").count() == 100
    assert Task.objects.values("device").distinct().count() == 100
