"""CDS services against a cpesim box through the portal's /cwmp (tests/cds/conftest.py)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from acs.choices import TaskRpc, TaskState
from acs.cwmp import messages as m
from acs.models import Device, Task
from cds.choices import Outcome
from cds.models import ContentItem, CustomerReference, Storage, StorageSnapshot
from cds.services import storage as cds
from cpesim.profiles import CONSENT, PULL, PUSH
from portal.models import AuditEvent
from tests.cds.conftest import OUI, SimBox

pytestmark = pytest.mark.django_db


def read(sim, user):
    device = sim.device()
    operation = cds.refresh_storage(device, actor=user)
    handled = sim.session("6 CONNECTION REQUEST")
    operation.refresh_from_db()
    return device, operation, handled


def test_a_read_follows_the_references_and_lists_the_content(sim, tenants):
    device, operation, handled = read(sim, tenants["helpdesk"])
    assert operation.outcome == Outcome.DONE, operation.message
    # Capabilities, references + consent, then per storage its folder and its content by partial
    # path: all in the one session the connection request opened.
    kinds = [type(r).__name__ for r in handled]
    assert kinds[:2] == ["GetParameterValues", "GetParameterValues"]
    partial = [n for r in handled if isinstance(r, m.GetParameterValues) for n in r.names]
    assert "Device.Services.STBService.1.Components.X_DVB_CDSPush.Content." in partial
    assert "Device.Services.STBService.1.Components.X_DVB_CDSPull.Content." in partial
    snapshot = StorageSnapshot.objects.get(device=device)
    assert (snapshot.push_capable, snapshot.pull_capable, snapshot.consent) == (True, True, True)
    assert snapshot.read_at is not None and snapshot.error == ""
    push = Storage.objects.get(device=device, service="push")
    assert push.kind == "folder"
    assert push.reference == "Device.Services.StorageService.1.LogicalVolume.1.Folder.2"
    assert push.capacity_mb == int(sim.model.get(push.reference + ".Quota.Capacity"))
    assert push.used_mb == sim.folder_used("push")
    box_items = sim.items("push")
    stored = {i.instance: i for i in push.items.all()}
    assert set(stored) == set(box_items)
    for number, item in box_items.items():
        assert stored[number].crid == item["ContentReferenceId"]
        assert stored[number].version == int(item["VersionNumber"])
        assert stored[number].size == int(item["Size"])
    pull = Storage.objects.get(device=device, service="pull")
    assert set(pull.items.values_list("instance", flat=True)) == set(sim.items("pull"))


def test_deleting_an_item_frees_its_space_and_is_audited_with_who_and_why(sim, tenants):
    user = tenants["helpdesk"]
    device, _, _ = read(sim, user)
    push = Storage.objects.get(device=device, service="push")
    victim = push.items.order_by("-size").first()
    used_before = push.used_mb
    [operation] = cds.delete_items(
        device, "push", [victim.instance], actor=user, reason="customer complains: box full"
    )
    task = Task.objects.get(cds_step__operation=operation)
    assert task.rpc == TaskRpc.DELETE_OBJECT
    assert task.request["object_name"] == (
        f"Device.Services.STBService.1.Components.X_DVB_CDSPush.Content.Item.{victim.instance}."
    )
    requested = AuditEvent.objects.get(kind="cds_delete_requested")
    assert requested.actor == user and "customer complains: box full" in requested.message
    assert requested.details["crid"] == victim.crid

    handled = sim.session("6 CONNECTION REQUEST")
    assert isinstance(handled[0], m.DeleteObject)
    assert victim.instance not in sim.items("push")
    operation.refresh_from_db()
    assert operation.outcome == Outcome.DONE and "deleted" in operation.message
    push.refresh_from_db()
    assert not push.items.filter(instance=victim.instance).exists()
    # The usage was read again in the same session: the space is free.
    assert push.used_mb == sim.folder_used("push") < used_before
    assert used_before - push.used_mb >= victim.size // 1_000_000
    done = AuditEvent.objects.get(kind="cds_item_deleted")
    assert done.actor == user and done.details["reason"] == "customer complains: box full"


def test_deleting_several_items_queues_one_deletion_each(sim, tenants):
    user = tenants["helpdesk"]
    device, _, _ = read(sim, user)
    numbers = sorted(sim.items("push"))[:2]
    operations = cds.delete_items(device, "push", numbers, actor=user, reason="cleanup")
    assert len(operations) == 2
    sim.session("6 CONNECTION REQUEST")
    assert not set(numbers) & set(sim.items("push"))
    assert AuditEvent.objects.filter(kind="cds_item_deleted").count() == 2
    assert not ContentItem.objects.filter(
        storage__device=device, instance__in=numbers, storage__service="push"
    ).exists()


# --- bad input -----------------------------------------------------------------------------------


def test_an_item_already_gone_from_the_box_gets_a_clear_message_and_nothing_else_moves(
    sim, tenants
):
    user = tenants["helpdesk"]
    device, _, _ = read(sim, user)
    numbers = sorted(sim.items("push"))
    gone, kept = numbers[0], numbers[1:]
    # The regular CDS deletion removes the item on the box after the help desk read the list.
    sim.box.handle_rpc(m.DeleteObject(f"{PUSH}Content.Item.{gone}."))
    before_box = sim.items("push")
    used_before = sim.folder_used("push")
    [operation] = cds.delete_items(device, "push", [gone], actor=user, reason="stale")
    sim.session("6 CONNECTION REQUEST")
    operation.refresh_from_db()
    assert operation.outcome == Outcome.GONE
    assert "already gone from the box" in operation.message
    assert "nothing else was touched" in operation.message
    assert sim.items("push") == before_box and sim.folder_used("push") == used_before
    push = Storage.objects.get(device=device, service="push")
    assert sorted(push.items.values_list("instance", flat=True)) == kept
    assert AuditEvent.objects.filter(kind="cds_delete_failed").count() == 1
    # Asked again: refused before anything is queued, naming the item.
    tasks = Task.objects.count()
    with pytest.raises(cds.CdsError, match=rf"item {gone} is not on the CDS push storage"):
        cds.delete_items(device, "push", [gone], actor=user, reason="again")
    assert Task.objects.count() == tasks


def test_a_request_naming_one_missing_item_queues_nothing(sim, tenants):
    user = tenants["helpdesk"]
    device, _, _ = read(sim, user)
    present = sorted(sim.items("push"))[0]
    tasks, events = Task.objects.count(), AuditEvent.objects.count()
    with pytest.raises(cds.CdsError, match="item 999 is not on"):
        cds.delete_items(device, "push", [present, 999], actor=user, reason="cleanup")
    assert (Task.objects.count(), AuditEvent.objects.count()) == (tasks, events)
    with pytest.raises(cds.CdsError, match="reason: a reason is required"):
        cds.delete_items(device, "push", [present], actor=user, reason="   ")
    with pytest.raises(cds.CdsError, match="'x' is not an item number"):
        cds.delete_items(device, "push", ["x"], actor=user, reason="r")
    [first] = cds.delete_items(device, "push", [present], actor=user, reason="r")
    with pytest.raises(cds.CdsError, match=f"already being deleted \\(operation #{first.pk}\\)"):
        cds.delete_items(device, "push", [present], actor=user, reason="r")


def test_items_deleted_on_the_box_are_dropped_at_the_next_read(sim, tenants):
    user = tenants["helpdesk"]
    device, _, _ = read(sim, user)
    gone = sorted(sim.items("push"))[-1]
    sim.box.handle_rpc(m.DeleteObject(f"{PUSH}Content.Item.{gone}."))
    _, operation, handled = read(sim, user)
    assert operation.outcome == Outcome.DONE
    # The partial-path read merged into the ACS tree keeps the old item; the box's
    # ItemNumberOfEntries disagrees, so a GetParameterNames of the content path pruned it.
    assert any(
        isinstance(r, m.GetParameterNames) and r.parameter_path == PUSH + "Content."
        for r in handled
    )
    push = Storage.objects.get(device=device, service="push")
    assert set(push.items.values_list("instance", flat=True)) == set(sim.items("push"))


def test_pull_storage_without_consent_is_refused_and_never_asked(tenants, acs_open):
    user = tenants["helpdesk"]
    sim = SimBox("CDS00002", consent=False)
    sim.session()
    device, operation, handled = read(sim, user)
    assert operation.outcome == Outcome.DONE
    names = [n for r in handled if isinstance(r, m.GetParameterValues) for n in r.names]
    assert not [n for n in names if n.startswith(PULL + "Content.") or "Folder.3." in n]
    snapshot = StorageSnapshot.objects.get(device=device)
    assert snapshot.consent is False
    pull = Storage.objects.get(device=device, service="pull")
    assert not pull.items_visible and pull.items.count() == 0 and pull.capacity_mb is None
    tasks = Task.objects.count()
    with pytest.raises(cds.CdsError, match="RMSManagementEnabled is false"):
        cds.delete_items(device, "pull", [1], actor=user, reason="full")
    with pytest.raises(cds.CdsError, match="RMSManagementEnabled is false"):
        cds.resize_storage(device, "pull", 1000, actor=user)
    assert Task.objects.count() == tasks
    # The user enables it on the TV; the next read shows the pull storage.
    sim.box.local_change(CONSENT, "true")
    _, operation, _ = read(sim, user)
    pull.refresh_from_db()
    assert pull.items_visible and pull.capacity_mb is not None
    assert set(pull.items.values_list("instance", flat=True)) == set(sim.items("pull"))


def test_consent_withdrawn_after_the_read_the_box_refuses_and_the_snapshot_follows(
    tenants, acs_open
):
    user = tenants["helpdesk"]
    sim = SimBox("CDS00003")
    sim.session()
    assert sim.items("pull"), "this serial's content variant has pull items"
    device, _, _ = read(sim, user)
    number = sorted(sim.items("pull"))[0]
    sim.box.local_change(CONSENT, "false")
    [operation] = cds.delete_items(device, "pull", [number], actor=user, reason="full")
    sim.session("6 CONNECTION REQUEST")
    operation.refresh_from_db()
    assert operation.outcome == Outcome.FAILED and "9001" in operation.message
    assert number in sim.items("pull")
    assert StorageSnapshot.objects.get(device=device).consent is False
    assert not ContentItem.objects.filter(storage__device=device, storage__service="pull").exists()


def test_resizing_a_folder_sets_its_quota(sim, tenants):
    user = tenants["noc"]
    device, _, _ = read(sim, user)
    push = Storage.objects.get(device=device, service="push")
    new = push.used_mb + 10_000
    operation = cds.resize_storage(device, "push", new, actor=user, reason="more room")
    handled = sim.session("6 CONNECTION REQUEST")
    assert isinstance(handled[0], m.SetParameterValues)
    assert handled[0].parameters[0].name == push.reference + ".Quota.Capacity"
    assert sim.model.get(push.reference + ".Quota.Capacity") == str(new)
    operation.refresh_from_db()
    push.refresh_from_db()
    assert operation.outcome == Outcome.DONE and push.capacity_mb == new
    assert AuditEvent.objects.filter(kind="cds_resized", actor=user).count() == 1


def test_resize_below_use_or_beyond_the_volume_is_refused(sim, tenants):
    user = tenants["noc"]
    device, _, _ = read(sim, user)
    push = Storage.objects.get(device=device, service="push")
    with pytest.raises(cds.CdsError, match=f"less than the {push.used_mb} MB"):
        cds.resize_storage(device, "push", push.used_mb - 1, actor=user)
    with pytest.raises(cds.CdsError, match="capacity_mb: 0 is out of range"):
        cds.resize_storage(device, "push", 0, actor=user)
    # The box's own check: the folders together would exceed the volume.
    operation = cds.resize_storage(device, "push", 4_000_000_000, actor=user)
    sim.session("6 CONNECTION REQUEST")
    operation.refresh_from_db()
    assert operation.outcome == Outcome.FAILED
    assert "exceeds the volume" in operation.message
    push.refresh_from_db()
    assert push.capacity_mb == int(sim.model.get(push.reference + ".Quota.Capacity"))


@pytest.mark.parametrize(
    ("reference", "kind", "what"),
    [
        ("Device.Services.StorageService.1.LogicalVolume.1", "logical_volume", "LogicalVolume"),
        ("Device.Services.StorageService.1.PhysicalMedium.1", "physical_medium", "PhysicalMedium"),
    ],
)
def test_a_partition_or_medium_is_read_but_resizing_it_is_refused_with_the_reason(
    sim, tenants, reference, kind, what
):
    user = tenants["noc"]
    sim.model.put(PUSH + "Reference", reference)  # a box built that way
    device, operation, _ = read(sim, user)
    assert operation.outcome == Outcome.DONE
    push = Storage.objects.get(device=device, service="push")
    assert push.kind == kind
    assert push.capacity_mb == int(sim.model.get(reference + ".Capacity"))
    if kind == "logical_volume":
        assert push.used_mb == int(sim.model.read(reference + ".UsedSpace"))
    else:
        assert push.used_mb is None  # TR-140 gives a medium no UsedSpace
    tasks = Task.objects.count()
    with pytest.raises(cds.CdsError, match=f"{what} {reference}: a partition or medium is not"):
        cds.resize_storage(device, "push", 1000, actor=user)
    assert Task.objects.count() == tasks


def test_a_pending_read_is_not_duplicated(sim, tenants):
    device = sim.device()
    first = cds.refresh_storage(device, actor=tenants["helpdesk"])
    again = cds.refresh_storage(device, actor=tenants["helpdesk"])
    assert again.pk == first.pk
    assert cds.operation_status(first)[0] == "waiting"


class _Listener(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        type(self).hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def cr_listener():
    _Listener.hits = []
    server = HTTPServer(("127.0.0.1", 0), _Listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/cr", _Listener.hits
    server.shutdown()
    server.server_close()


def test_an_offline_box_keeps_the_deletion_pending_after_a_connection_request(
    tenants, acs_open, settings, cr_listener, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    base, hits = cr_listener
    user = tenants["helpdesk"]
    sim = SimBox("CDS00004", cr_base=base)
    sim.session()
    with django_capture_on_commit_callbacks(execute=True):
        device = sim.device()
        cds.refresh_storage(device, actor=user)
    sim.session("6 CONNECTION REQUEST")
    number = sorted(sim.items("push"))[0]
    hits.clear()
    with django_capture_on_commit_callbacks(execute=True):
        [operation] = cds.delete_items(device, "push", [number], actor=user, reason="full")
    # The box is asked for a session; it does not come (offline): the task waits.
    assert hits == [f"/cr/{OUI}-CDS00004"]
    task = Task.objects.get(cds_step__operation=operation)
    assert task.state == TaskState.QUEUED
    assert cds.operation_status(operation) == (
        "waiting",
        "Waiting for the box (connection request sent)",
    )
    assert number in sim.items("push")
    # It comes back later (its periodic Inform): the deletion goes out then.
    sim.session("2 PERIODIC")
    operation.refresh_from_db()
    assert operation.outcome == Outcome.DONE and number not in sim.items("push")


def test_customer_reference_finds_the_box_like_serial_mac_and_ip(sim, tenants):
    user = tenants["helpdesk"]
    device = sim.device()
    # cpesim's Inform carries no MACAddress; a box that reports one has it in the registry.
    device.mac_address = "00:d0:9e:12:34:56"
    device.save()
    assert device.ip_address
    cds.set_customer_reference(device, "  CUST-4711 ", actor=user)
    assert device.customer.reference == "CUST-4711"
    devices = Device.objects.restrict(user, "view")
    for text in (
        "cust-4711",
        device.serial_number,
        device.serial_number[:5],
        device.mac_address,
        device.mac_address.replace(":", "-").upper(),
        str(device.ip_address),
    ):
        assert list(cds.find_devices(devices, text)) == [device], text
    assert not cds.find_devices(devices, "CUST-0000").exists()
    assert not cds.find_devices(
        Device.objects.restrict(tenants["supplier_b"], "view"), "CUST-4711"
    ).exists()
    with pytest.raises(cds.CdsError, match="at most 64 characters"):
        cds.set_customer_reference(device, "x" * 65, actor=user)
    assert AuditEvent.objects.filter(kind="cds_customer_reference").count() == 1
    cds.set_customer_reference(device, "", actor=user)
    assert not CustomerReference.objects.filter(device=device).exists()
