"""Session time-outs, nonce purging, transcript caps, task expiry, cancel and retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from acs.choices import TaskState
from acs.cwmp import messages as m
from acs.models import CwmpNonce, CwmpSession, Device, SessionTranscript, Task
from acs.services import auth
from acs.services import tasks as task_services
from acs.services.cwmp import expire_sessions
from acs.tasks import expire_sessions as expire_task
from acs.tasks import purge_nonces
from portal.models import AuditEvent
from tests.acs.cpe import Box, inform

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _open_acs(settings):
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"


def test_a_silent_session_times_out_and_its_rpc_goes_back_to_the_queue(tenants):
    box = Box()
    box.session(inform())
    device = Device.objects.get()
    task = task_services.reboot(device, actor=tenants["noc"])
    box.send(inform(events=("6 CONNECTION REQUEST",)))
    box.send(None)  # Reboot sent; the box goes silent
    other = Box()
    other.send(inform(serial="OTHER"))  # a live session that must survive
    CwmpSession.objects.filter(device=device).update(
        last_seen=timezone.now() - timedelta(minutes=5)
    )
    assert expire_task.apply().get() == 1
    assert list(CwmpSession.objects.values_list("device__serial_number", flat=True)) == ["OTHER"]
    task.refresh_from_db()
    assert task.state == TaskState.QUEUED and "timed out" in task.reason
    transcript = SessionTranscript.objects.get(device=device, outcome="session timed out")
    assert [e["direction"] for e in transcript.entries] == ["in", "out", "in", "out"]
    # The box's late answer finds no session: nothing is corrupted, it must start over.
    assert box.send(m.RebootResponse(), cwmp_id="x").status_code == 204
    task.refresh_from_db()
    assert task.state == TaskState.QUEUED


def test_expire_sessions_leaves_live_sessions_alone(tenants):
    Box().send(inform())
    assert expire_sessions() == 0
    assert CwmpSession.objects.count() == 1


def test_old_nonce_counts_are_purged(settings):
    CwmpNonce.objects.create(nonce="old", nc=3, created=timezone.now() - timedelta(hours=1))
    CwmpNonce.objects.create(nonce="new", nc=1)
    assert purge_nonces.apply().get() == 1
    assert list(CwmpNonce.objects.values_list("nonce", flat=True)) == ["new"]
    assert auth.purge_nonces() == 0


def test_transcripts_are_capped_per_device_and_in_size(tenants, settings):
    settings.CWMP_TRANSCRIPTS = 2
    settings.CWMP_TRANSCRIPT_MAX_BYTES = 1500
    box = Box()
    for n in range(4):
        box.session(inform(events=("2 PERIODIC",), extra={"Device.X_N": str(n)}))
    transcripts = list(SessionTranscript.objects.order_by("ended", "pk"))
    assert len(transcripts) == 2
    assert all(t.truncated for t in transcripts)
    assert "<SOAP-ENV:Envelope" in transcripts[-1].entries[0]["body"]
    for t in transcripts:
        assert sum(len(e["body"]) for e in t.entries) <= 1500
    settings.CWMP_TRANSCRIPTS = 0
    box.session(inform(events=("2 PERIODIC",)))
    assert SessionTranscript.objects.count() == 2


def test_an_expired_task_is_not_sent(tenants):
    box = Box()
    box.session(inform())
    device = Device.objects.get()
    task = task_services.queue_task(
        device,
        m.Reboot(),
        actor=tenants["noc"],
        expires=timezone.now() - timedelta(seconds=1),
    )
    box.send(inform(events=("6 CONNECTION REQUEST",)))
    assert box.send(None).status_code == 204
    task.refresh_from_db()
    assert task.state == TaskState.EXPIRED and task.reason == "expired before it could be sent"


def test_cancel_and_retry_are_audited(tenants):
    Box().session(inform())
    device = Device.objects.get()
    task = task_services.reboot(device, actor=tenants["noc"])
    task_services.cancel_task(task, actor=tenants["helpdesk"])
    task.refresh_from_db()
    assert task.state == TaskState.EXPIRED and task.reason == "cancelled"
    with pytest.raises(task_services.TaskError, match="Only queued tasks"):
        task_services.cancel_task(task, actor=tenants["helpdesk"])
    again = task_services.retry_task(task, actor=tenants["noc"])
    assert again.pk != task.pk and again.state == TaskState.QUEUED and again.rpc == "Reboot"
    with pytest.raises(task_services.TaskError, match="Only failed or expired"):
        task_services.retry_task(again, actor=tenants["noc"])
    kinds = list(
        AuditEvent.objects.filter(kind__startswith="acs_")
        .order_by("pk")
        .values_list("kind", "actor__username")
    )
    assert kinds == [
        ("acs_task_queued", "noc"),
        ("acs_task_cancelled", "helpdesk"),
        ("acs_task_retried", "noc"),
    ]
    assert Task.objects.count() == 2


def test_service_argument_checks(tenants):
    Box().session(inform())
    device = Device.objects.get()
    with pytest.raises(task_services.TaskError, match="object path"):
        task_services.add_object(device, "Device.X", actor=None)
    with pytest.raises(task_services.TaskError, match="not a parameter name"):
        task_services.set_parameter_values(device, {"Device.X.": 1}, actor=None)
    with pytest.raises(task_services.TaskError, match="push_firmware"):
        task_services.queue_task(
            device, m.Download("k", "1 Firmware Upgrade Image", "u"), actor=None
        )
    with pytest.raises(task_services.TaskError, match="negative"):
        task_services.schedule_inform(device, actor=None, delay_seconds=-1)
    assert not Task.objects.exists()
