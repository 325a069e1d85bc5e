"""Configuration jobs across a population of cpesim boxes: rate limit, Folder quota set, boxes
skipped with the reason (partition, no consent), pause/cancel; the beat task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cds.choices import JobState, TargetState
from cds.models import JobTarget, Operation
from cds.services import bulk
from cds.services.storage import CdsError
from cds.tasks import configuration_tick
from cpesim.profiles import PUSH
from portal.models import AuditEvent
from tests.cds.conftest import SimBox

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(tenants, acs_open):
    boxes = [SimBox(f"JOB0000{i}", consent=i != 2) for i in range(1, 5)]
    # Box 3 keeps its push storage on a whole partition.
    boxes[2].model.put(PUSH + "Reference", "Device.Services.StorageService.1.LogicalVolume.1")
    for box in boxes:
        box.session()
    return boxes


def test_a_job_configures_the_population_at_its_rate(fleet, tenants):
    noc = tenants["noc"]
    job = bulk.create_job(
        name="Push 120 GB",
        service="push",
        capacity_mb=120_000,
        device_class=tenants["dc_a"],
        rate_per_minute=2,
        actor=noc,
    )
    t0 = timezone.now()
    bulk.start_job(job, actor=noc, now=t0)
    assert job.targets.count() == 4
    assert bulk.advance_job(job.pk, now=t0 + timedelta(seconds=10)) == 0  # not a box's worth yet
    assert bulk.advance_job(job.pk, now=t0 + timedelta(seconds=60)) == 2
    assert bulk.advance_job(job.pk, now=t0 + timedelta(seconds=61)) == 0
    for box in fleet:
        box.session("6 CONNECTION REQUEST")
    assert bulk.advance_job(job.pk, now=t0 + timedelta(seconds=130)) == 2
    for box in fleet:
        box.session("6 CONNECTION REQUEST")
    bulk.advance_job(job.pk, now=t0 + timedelta(seconds=200))
    job.refresh_from_db()
    assert job.state == JobState.DONE
    states = {t.device.serial_number: (t.state, t.message) for t in job.targets.all()}
    for serial in ("JOB00001", "JOB00002", "JOB00004"):
        assert states[serial][0] == TargetState.DONE, states[serial]
        box = next(b for b in fleet if b.box.serial == serial)
        folder = box.model.get(PUSH + "Reference")
        assert box.model.get(folder + ".Quota.Capacity") == "120000"
    assert states["JOB00003"][0] == TargetState.SKIPPED
    assert "LogicalVolume" in states["JOB00003"][1]
    assert AuditEvent.objects.filter(kind__in=["cds_job_created", "cds_job_started"]).count() == 2


def test_a_pull_job_skips_boxes_without_consent(fleet, tenants):
    noc = tenants["noc"]
    job = bulk.create_job(
        name="Pull", service="pull", capacity_mb=40_000, rate_per_minute=100, actor=noc
    )
    t0 = timezone.now()
    bulk.start_job(job, actor=noc, now=t0)
    bulk.advance_job(job.pk, now=t0 + timedelta(minutes=1))
    for box in fleet:
        box.session("6 CONNECTION REQUEST")
    target = JobTarget.objects.get(job=job, device__serial_number="JOB00002")
    assert target.state == TargetState.SKIPPED and "not allowed" in target.message
    assert (
        fleet[1].model.get(
            fleet[1].model.get(PUSH.replace("Push", "Pull") + "Reference") + ".Quota.Capacity"
        )
        != "40000"
    )


def test_pause_cancel_and_bad_input(fleet, tenants):
    noc = tenants["noc"]
    with pytest.raises(CdsError, match="rate_per_minute"):
        bulk.create_job(name="x", service="push", capacity_mb=1, rate_per_minute=0, actor=noc)
    with pytest.raises(CdsError, match="service"):
        bulk.create_job(name="x", service="disk", capacity_mb=1, actor=noc)
    job = bulk.create_job(
        name="x", service="push", capacity_mb=100_000, actor=noc, rate_per_minute=1
    )
    t0 = timezone.now()
    bulk.start_job(job, actor=noc, now=t0)
    bulk.pause_job(job, actor=noc)
    assert bulk.advance_job(job.pk, now=t0 + timedelta(minutes=5)) == 0
    bulk.start_job(job, actor=noc, now=t0 + timedelta(minutes=5))
    assert configuration_tick() == 0  # the beat task: a minute has not passed since the resume
    bulk.cancel_job(job, actor=noc)
    assert job.targets.filter(state=TargetState.SKIPPED).count() == 4
    assert not Operation.objects.filter(kind="configure").exists()
    with pytest.raises(CdsError, match="already cancelled"):
        bulk.cancel_job(job, actor=noc)


def test_the_population_is_what_the_starter_may_act_on(fleet, tenants):
    job = bulk.create_job(
        name="x", service="push", capacity_mb=100_000, actor=tenants["supplier_a"]
    )
    bulk.start_job(job, actor=tenants["supplier_a"])  # may view, may not change devices
    assert job.targets.count() == 0
