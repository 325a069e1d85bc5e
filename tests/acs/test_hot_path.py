"""The /cwmp hot path (`acs.services.store`): its statement budget, the transcript pruning cadence,
and the model signals its hand-written SQL must still send."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models.signals import post_delete, post_save
from django.test.utils import CaptureQueriesContext

from acs.choices import TaskState
from acs.models import CwmpSession, Device, DeviceParameters, SessionTranscript, Task
from acs.services import tasks as task_services
from tests.acs.cpe import Box, inform

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _open_acs(settings):
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # As in production: the live-session count is reused for a while, not read per Inform.
    settings.CWMP_SESSION_COUNT_TTL = 3600


def _data_statements(queries) -> list[str]:
    """The statements that touch tables (transaction control aside: SQLite logs its BEGIN, psycopg
    sends its own)."""
    skip = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")
    return [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith(skip)]


def _counted_session(box: Box, message) -> tuple[list[str], list[str]]:
    with CaptureQueriesContext(connection) as informed:
        response = box.send(message)
    assert response.status_code == 200
    with CaptureQueriesContext(connection) as emptied:
        response = box.send(None)
    assert response.status_code == 204
    box.client.cookies.clear()
    return _data_statements(informed.captured_queries), _data_statements(emptied.captured_queries)


def test_a_periodic_session_costs_a_few_statements_per_post(tenants):
    # PostgreSQL sends two writes in one statement (a data-modifying CTE) where SQLite needs two.
    merged = connection.vendor == "postgresql"
    box = Box()
    box.session(inform())
    for _ in range(2):  # the first periodic session may prune; the budget holds for both
        box.client.cookies.clear()
        informed, emptied = _counted_session(box, inform(events=("2 PERIODIC",)))
        # Inform: lock the device (its session row read in the same statement), update it,
        # insert the session.
        assert len(informed) == (2 if merged else 3), informed
        assert "FOR UPDATE" in informed[0] or not merged
        # Empty POST: lock the session (the queue's emptiness read in the same statement),
        # store the transcript, delete the session (plus a prune every CWMP_TRANSCRIPTS-th).
        assert len(emptied) - (2 if merged else 3) in (0, 1), emptied
        assert "acs_task" in emptied[0] and "EXISTS" in emptied[0]


def test_a_first_contact_writes_each_row_once(tenants):
    informed, emptied = _counted_session(Box(), inform(serial="NEW1"))
    # Lock (miss), insert the device (class matched inside), version history, both events in
    # one insert, the parameter tree, the session.
    assert len(informed) == 6, informed
    assert len(emptied) == (2 if connection.vendor == "postgresql" else 3), emptied
    device = Device.objects.get(serial_number="NEW1")
    assert device.device_class == tenants["dc_a"]
    assert device.sessions_started == 1
    tree = DeviceParameters.objects.get(device=device).tree
    assert tree["Device.DeviceInfo.SoftwareVersion"] == ["1.0.0", "string", None]


def test_a_queued_task_is_still_found_by_the_empty_post(tenants):
    box = Box()
    box.session(inform())
    device = Device.objects.get()
    task = task_services.reboot(device, actor=None)
    box.client.cookies.clear()
    box.send(inform(events=("2 PERIODIC",)))
    answer = box.parsed(box.send(None))
    assert type(answer.message).__name__ == "Reboot"
    assert Task.objects.get(pk=task.pk).state == TaskState.SENT


@pytest.mark.parametrize("keep", [1, 3])
def test_transcripts_are_pruned_every_keep_th_session_and_the_newest_are_kept(
    tenants, settings, keep
):
    settings.CWMP_TRANSCRIPTS = keep
    box = Box()
    counts = []
    for n in range(2 * keep + 2):
        box.client.cookies.clear()
        box.session(inform(events=("2 PERIODIC",) if n else ("0 BOOTSTRAP", "1 BOOT")))
        counts.append(SessionTranscript.objects.count())
    # Session k prunes when k is a multiple of `keep`: between keep and 2 x keep - 1 stored.
    expected, stored = [], 0
    for k in range(1, 2 * keep + 3):
        stored += 1
        if k % keep == 0:
            stored = min(stored, keep)
        expected.append(stored)
    assert counts == expected
    assert max(counts) <= 2 * keep - 1 or keep == 1
    device = Device.objects.get()
    assert device.sessions_started == 2 * keep + 2
    newest = list(SessionTranscript.objects.order_by("-pk").values_list("pk", flat=True)[:keep])
    kept = set(SessionTranscript.objects.values_list("pk", flat=True))
    assert set(newest) <= kept


def test_transcripts_off_store_none(tenants, settings):
    settings.CWMP_TRANSCRIPTS = 0
    Box().session(inform())
    assert not SessionTranscript.objects.exists()
    assert not CwmpSession.objects.exists()


def test_the_model_signals_of_the_replaced_orm_calls_are_sent(tenants):
    """The home-network hook (Device post_save, full save) and the live page (CwmpSession
    post_save / post_delete) listen to these."""
    seen: list[tuple] = []

    def device_saved(sender, instance, created, update_fields, **kwargs):
        seen.append(("device", created, update_fields, list(instance.last_events), instance.pk))

    def session_saved(sender, instance, created, **kwargs):
        seen.append(("session saved", created, instance.device_id, instance.token != ""))

    def session_deleted(sender, instance, **kwargs):
        seen.append(("session deleted", instance.device_id))

    post_save.connect(device_saved, sender=Device, dispatch_uid="t-dev")
    post_save.connect(session_saved, sender=CwmpSession, dispatch_uid="t-ses")
    post_delete.connect(session_deleted, sender=CwmpSession, dispatch_uid="t-del")
    try:
        box = Box()
        box.session(inform())
        device = Device.objects.get()
        box.client.cookies.clear()
        box.session(inform(events=("2 PERIODIC",)))
    finally:
        post_save.disconnect(dispatch_uid="t-dev", sender=Device)
        post_save.disconnect(dispatch_uid="t-ses", sender=CwmpSession)
        post_delete.disconnect(dispatch_uid="t-del", sender=CwmpSession)
    assert seen == [
        ("device", True, None, ["0 BOOTSTRAP", "1 BOOT"], device.pk),
        ("session saved", True, device.pk, True),
        ("session deleted", device.pk),
        ("device", False, None, ["2 PERIODIC"], device.pk),
        ("session saved", True, device.pk, True),
        ("session deleted", device.pk),
    ]


def test_the_stored_device_matches_what_the_orm_reads_back(tenants):
    """Values written by hand-made SQL read back through the ORM as the Inform said."""
    box = Box()
    box.session(inform())
    box.client.cookies.clear()
    box.session(inform(events=("2 PERIODIC",), software_version="1.1.0"))
    device = Device.objects.get()
    assert device.software_version == "1.1.0"
    assert device.last_events == ["2 PERIODIC"]
    assert device.ip_address == "127.0.0.1"
    assert device.mac == 0x00D09E000001 and device.serial_key
    assert device.is_online and device.last_inform >= device.last_boot
    assert device.updated == device.last_inform
    assert list(device.software_history.values_list("software_version", flat=True)) == [
        "1.1.0",
        "1.0.0",
    ]
