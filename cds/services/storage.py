"""CDS storage of one box over the ACS task machinery (TS 102 542-4 clause 13).

Operator acts (`refresh_storage`, `delete_items`, `resize_storage`, `set_customer_reference`) run
in a transaction, check the rules against the snapshot, queue ACS tasks through `acs.services.tasks`
(which asks the box for a session by connection request) and write the audit event. Each task is
linked to its operation by an `OperationTask`; when the task ends inside the box's CWMP session,
`task_finished` (a `post_save` receiver of `acs.models.Task`, see `cds.signals`) reads the answer
from the ACS parameter tree, updates the snapshot and queues the next step, which goes out in the
same session.

A read is a chain of GetParameterValues: the capabilities; the references (and the user's pull
consent); then, per storage, the referenced TR-140 object's capacity and used space together with
the content list by partial path (``...X_DVB_CDSPush.Content.``). The ACS merges a
GetParameterValues answer into its tree without dropping names the box no longer has, so when the
box's ``ItemNumberOfEntries`` disagrees with the instances in the tree (an item deleted on the box
by the regular CDS deletion), a GetParameterNames of the content path follows: its answer is the
whole truth below the path and prunes the stale items.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from acs.choices import OPEN_TASK_STATES, TaskRpc, TaskState
from acs.cwmp import messages as m
from acs.cwmp.faults import FaultCode
from acs.models import Device, DeviceParameters, Task
from acs.services import tasks as task_services
from cds import datamodel as dm
from cds.choices import CdsAuditKind, OperationKind, Outcome, Service
from cds.models import (
    ContentItem,
    CustomerReference,
    Operation,
    OperationTask,
    Storage,
    StorageSnapshot,
)
from fus.metadata.identifiers import try_parse_mac
from portal.audit import record_event

log = logging.getLogger("cds")

MAX_DELETE = 50
MAX_REASON = 500
SERVICE_NAMES = {Service.PUSH: "push", Service.PULL: "pull"}


class CdsError(ValueError):
    """An act the rules refuse; the text says why (and names the field or item)."""


# --- helpers --------------------------------------------------------------------------------------


def paths_for(device: Device) -> dm.Paths:
    return dm.Paths(root=device.root_object or "Device")


def snapshot_of(device: Device) -> StorageSnapshot:
    snapshot, _ = StorageSnapshot.objects.get_or_create(device=device)
    return snapshot


def _tree(device_id: int) -> dict:
    row = DeviceParameters.objects.filter(device_id=device_id).values_list("tree", flat=True)
    return next(iter(row), None) or {}


def _reference(storage: Storage | None) -> dm.Reference:
    if storage is None:
        return dm.Reference(dm.NONE, "")
    return dm.classify_reference(storage.reference)


def _actor_name(actor) -> str:
    return actor.get_username() if getattr(actor, "is_authenticated", False) else ""


def _new_operation(device: Device, kind: str, *, actor, service: str = "", **fields) -> Operation:
    return Operation.objects.create(
        device=device,
        kind=kind,
        service=service,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_name=_actor_name(actor),
        **fields,
    )


def _queue(operation: Operation, step: str, message: m.AcsRequest, *, actor, first: bool) -> Task:
    """Queue one step: an operator's first step through the audited service (it sends the
    connection request), later steps as follow-ups inside the box's session."""
    device = operation.device
    if first:
        task = task_services.queue_task(device, message, actor=actor)
    else:
        task = task_services.queue_follow_up(device, message)
    OperationTask.objects.create(operation=operation, task=task, step=step)
    return task


def open_operation(device: Device, kind: str, **details) -> Operation | None:
    """The pending operation of that kind (and details) whose tasks are still open."""
    ops = Operation.objects.filter(device=device, kind=kind, outcome=Outcome.PENDING)
    for key, value in details.items():
        ops = ops.filter(**{f"details__{key}": value})
    return ops.filter(steps__task__state__in=OPEN_TASK_STATES).distinct().first()


def require_storage(device: Device, service: str) -> Storage:
    if service not in Service.values:
        raise CdsError(f"service {service!r} is not one of {', '.join(Service.values)}")
    storage = Storage.objects.filter(device=device, service=service).first()
    if storage is None:
        raise CdsError(
            f"the CDS {SERVICE_NAMES[service]} storage of {device} has not been read yet: "
            "read the storage first"
        )
    return storage


def require_consent(device: Device, snapshot: StorageSnapshot | None = None) -> None:
    """Refuse to touch the pull storage unless the box reported the user's consent."""
    snapshot = snapshot or StorageSnapshot.objects.filter(device=device).first()
    if snapshot is None or snapshot.consent is None:
        raise CdsError(
            f"the user's consent to manage the CDS pull storage of {device} has not been read "
            "yet (X_DVB_CDSPull.RMSManagementEnabled): read the storage first"
        )
    if not snapshot.consent:
        when = f" (read {snapshot.consent_read:%Y-%m-%d %H:%M:%S})" if snapshot.consent_read else ""
        raise CdsError(
            f"the user has not allowed the operator to manage the CDS pull storage of {device}: "
            f"X_DVB_CDSPull.RMSManagementEnabled is false{when}; the user enables it on the TV"
        )


# --- operator acts --------------------------------------------------------------------------------


@transaction.atomic
def refresh_storage(device: Device, *, actor, audit: bool = True) -> Operation:
    """Read the box's CDS capabilities, storages and content (a chain of tasks). While a read is
    pending, asking again returns it."""
    existing = open_operation(device, OperationKind.REFRESH)
    if existing is not None:
        return existing
    paths = paths_for(device)
    snapshot_of(device)
    operation = _new_operation(device, OperationKind.REFRESH, actor=actor)
    _queue(operation, "caps", m.GetParameterValues((paths.capabilities,)), actor=actor, first=True)
    if audit:
        record_event(
            CdsAuditKind.REFRESH_REQUESTED,
            obj=device,
            actor=actor,
            message=f"CDS storage read of {device} requested",
            details={"operation": operation.pk},
        )
    return operation


def configure_storage(
    device: Device, service: str, capacity_mb: int, *, actor, job_target=None
) -> Operation:
    """A configuration job's act on one box: read it (capabilities, references, consent, usage),
    then set the storage's Folder quota to `capacity_mb`, or skip the box with the reason (not a
    Folder, no consent, more already used). Audited by the job, not per box."""
    if service not in Service.values:
        raise CdsError(f"service {service!r} is not one of {', '.join(Service.values)}")
    operation = _new_operation(
        device,
        OperationKind.CONFIGURE,
        actor=actor,
        service=service,
        details={"service": service, "capacity_mb": capacity_mb},
        job_target=job_target,
    )
    snapshot_of(device)
    _queue(
        operation,
        "caps",
        m.GetParameterValues((paths_for(device).capabilities,)),
        actor=actor,
        first=True,
    )
    return operation


def _clean_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise CdsError("reason: a reason is required to delete content (it is audited)")
    if len(reason) > MAX_REASON:
        raise CdsError(f"reason: at most {MAX_REASON} characters ({len(reason)} given)")
    return reason


@transaction.atomic
def delete_items(
    device: Device, service: str, instances: list[int], *, actor, reason: str
) -> list[Operation]:
    """Delete content items (DeleteObject of ``...Content.Item.{i}.``, which removes all of the
    item's files), one operation and one audit event per item. All or nothing: an item that is not
    (or no longer) on the box refuses the whole request, naming it, and nothing is queued."""
    reason = _clean_reason(reason)
    storage = require_storage(device, service)
    snapshot = snapshot_of(device)
    if service == Service.PULL:
        require_consent(device, snapshot)
    if not storage.items_visible:
        raise CdsError(f"the content of the CDS {SERVICE_NAMES[service]} storage is not visible")
    wanted: list[int] = []
    for value in instances:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise CdsError(f"items: {value!r} is not an item number") from None
        if number not in wanted:
            wanted.append(number)
    if not wanted:
        raise CdsError("items: choose at least one content item")
    if len(wanted) > MAX_DELETE:
        raise CdsError(f"items: at most {MAX_DELETE} items at a time ({len(wanted)} chosen)")
    present = {item.instance: item for item in storage.items.filter(instance__in=wanted)}
    for number in wanted:
        if number not in present:
            raise CdsError(
                f"item {number} is not on the CDS {SERVICE_NAMES[service]} storage of {device} "
                "(already deleted, or never there); nothing was deleted"
            )
        pending = open_operation(device, OperationKind.DELETE, service=service, instance=number)
        if pending is not None:
            raise CdsError(
                f"item {number} ({present[number].crid}) is already being deleted "
                f"(operation #{pending.pk}); nothing else was queued"
            )
    paths = paths_for(device)
    operations = []
    for number in wanted:
        item = present[number]
        details = {
            "service": service,
            "instance": number,
            "crid": item.crid,
            "version": item.version,
            "title": item.title,
            "size": item.size,
        }
        operation = _new_operation(
            device,
            OperationKind.DELETE,
            actor=actor,
            service=service,
            reason=reason,
            details=details,
        )
        task = _queue(
            operation,
            f"delete:{service}",
            m.DeleteObject(paths.item(service, number)),
            actor=actor,
            first=True,
        )
        record_event(
            CdsAuditKind.DELETE_REQUESTED,
            obj=device,
            actor=actor,
            message=(
                f"Delete {item.crid or 'item'} (item {number}, CDS {SERVICE_NAMES[service]}) "
                f"from {device}: {reason}"
            )[:500],
            details={**details, "reason": reason, "operation": operation.pk, "task": task.pk},
        )
        operations.append(operation)
    return operations


@transaction.atomic
def resize_storage(
    device: Device,
    service: str,
    capacity_mb: int,
    *,
    actor,
    reason: str = "",
    job_target=None,
    audit: bool = True,
) -> Operation:
    """Set the quota of a storage that is a TR-140 Folder (SetParameterValues of its
    ``Quota.Capacity``, MB). A PhysicalMedium or LogicalVolume storage is refused with the reason."""
    storage = require_storage(device, service)
    snapshot = snapshot_of(device)
    if service == Service.PULL:
        require_consent(device, snapshot)
    reference = _reference(storage)
    refusal = dm.refusal_to_resize(service, reference)
    if refusal is not None:
        raise CdsError(refusal)
    if isinstance(capacity_mb, bool) or not isinstance(capacity_mb, int):
        raise CdsError(f"capacity_mb: {capacity_mb!r} is not a whole number of MB")
    if not 1 <= capacity_mb <= dm.MAX_UNSIGNED_INT:
        raise CdsError(f"capacity_mb: {capacity_mb} is out of range (1 to {dm.MAX_UNSIGNED_INT})")
    if storage.used_mb is not None and capacity_mb < storage.used_mb:
        raise CdsError(
            f"capacity_mb: {capacity_mb} MB is less than the {storage.used_mb} MB the storage "
            "already uses; delete content first"
        )
    pending = open_operation(device, OperationKind.RESIZE, service=service)
    if pending is not None:
        raise CdsError(f"a resize of this storage is already pending (operation #{pending.pk})")
    details = {"service": service, "capacity_mb": capacity_mb, "previous_mb": storage.capacity_mb}
    operation = _new_operation(
        device,
        OperationKind.RESIZE,
        actor=actor,
        service=service,
        reason=" ".join((reason or "").split())[:MAX_REASON],
        details=details,
        job_target=job_target,
    )
    _queue_resize(operation, reference, capacity_mb, actor=actor, first=True)
    if audit:
        record_event(
            CdsAuditKind.RESIZE_REQUESTED,
            obj=device,
            actor=actor,
            message=(
                f"Resize the CDS {SERVICE_NAMES[service]} storage of {device} to {capacity_mb} MB"
            ),
            details={**details, "operation": operation.pk, "reason": operation.reason},
        )
    return operation


def _queue_resize(
    operation: Operation, reference: dm.Reference, capacity_mb: int, *, actor, first: bool
) -> Task:
    message = m.SetParameterValues(
        (
            m.ParameterValue(
                dm.quota_name(reference), m.TypedValue(str(capacity_mb), m.XsdType.UNSIGNED_INT)
            ),
        ),
        parameter_key="cds-quota",
    )
    return _queue(operation, f"resize:{operation.service}", message, actor=actor, first=first)


@transaction.atomic
def set_customer_reference(device: Device, reference: str, *, actor) -> CustomerReference | None:
    """Set (or, with an empty text, remove) the customer reference of a box. Change-logged."""
    text = " ".join((reference or "").split())
    if len(text) > 64:
        raise CdsError(f"customer reference: at most 64 characters ({len(text)} given)")
    if any(not c.isprintable() for c in text):
        raise CdsError(f"customer reference: {text!r} contains control characters")
    existing = CustomerReference.objects.filter(device=device).first()
    if not text:
        if existing is not None:
            existing.delete()
        result = None
    elif existing is None:
        result = CustomerReference.objects.create(device=device, reference=text)
    else:
        existing.reference = text
        existing.save(update_fields=["reference", "updated"])
        result = existing
    record_event(
        CdsAuditKind.CUSTOMER_REFERENCE_SET,
        obj=device,
        actor=actor,
        message=f"Customer reference of {device}: {text or '(removed)'}",
        details={"reference": text},
    )
    return result


def find_devices(queryset, text: str):
    """Devices of `queryset` matching `text`: serial number (exact or prefix), MAC address (any
    notation), IP address, or customer reference (exact, case-insensitive)."""
    text = (text or "").strip()[:100]
    if not text:
        return queryset.none()
    match = Q(serial_number=text) | Q(serial_number__startswith=text)
    match |= Q(customer__reference__iexact=text)
    mac = try_parse_mac(text)
    if mac is not None:
        match |= Q(mac=mac)
    with contextlib.suppress(ValueError):
        match |= Q(ip_address=str(ipaddress.ip_address(text)))
    return queryset.filter(match).distinct()


# --- the answers: called when a linked task ends --------------------------------------------------


def task_finished(task: Task) -> None:
    """React to the end of a task that carries a CDS step (a no-op for any other task). Runs in
    the transaction that recorded the answer; a bug here is logged and fails the operation, never
    the box's session."""
    if task.state not in (TaskState.DONE, TaskState.FAULT, TaskState.EXPIRED):
        return
    link = (
        OperationTask.objects.select_related("operation__device")
        .filter(task_id=task.pk, handled=False)
        .first()
    )
    if link is None:
        return
    try:
        with transaction.atomic():
            _handle(link, task)
    except Exception:
        log.exception("CDS step %s of operation %s failed", link.step, link.operation_id)
        with transaction.atomic():
            OperationTask.objects.filter(pk=link.pk).update(handled=True)
            _fail(link.operation, f"internal error while reading the answer to {link.step}")
            _maybe_finish(link.operation)


def _handle(link: OperationTask, task: Task) -> None:
    link.handled = True
    link.save(update_fields=["handled"])
    operation = link.operation
    step, _, service = link.step.partition(":")
    if task.state == TaskState.DONE:
        handler = _DONE[step]
        handler(operation, service, task)
    else:
        _failed(operation, step, service, task)
    _maybe_finish(operation)


def _fault_text(task: Task) -> str:
    if task.state == TaskState.EXPIRED:
        return f"task #{task.pk} {task.reason or 'expired'}"
    if task.fault_code:
        return f"fault {task.fault_code}: {task.fault_string}"
    return task.reason or "failed"


def _fail(operation: Operation, message: str, outcome: str = Outcome.FAILED) -> None:
    if operation.outcome == Outcome.PENDING:
        operation.outcome = outcome
        operation.message = message[:500]
        operation.save(update_fields=["outcome", "message"])


def _maybe_finish(operation: Operation) -> None:
    still_open = operation.steps.filter(handled=False, task__state__in=OPEN_TASK_STATES).exists()
    if still_open:
        return
    now = timezone.now()
    if operation.outcome == Outcome.PENDING:
        operation.outcome = Outcome.DONE
    operation.finished = now
    operation.save(update_fields=["outcome", "finished"])
    if operation.kind in (OperationKind.REFRESH, OperationKind.CONFIGURE):
        snapshot = snapshot_of(operation.device)
        read_steps = operation.steps.filter(step__regex=r"^(caps|refs|storage|reconcile)")
        if read_steps.exclude(task__state=TaskState.DONE).exists():
            snapshot.error = (operation.message or "the read did not complete")[:500]
        else:
            snapshot.read_at = now
            snapshot.error = ""
        snapshot.save()
    if operation.job_target_id is not None:
        from cds.services.bulk import target_finished

        target_finished(operation)


def _failed(operation: Operation, step: str, service: str, task: Task) -> None:
    device = operation.device
    text = _fault_text(task)
    if task.fault_code == FaultCode.REQUEST_DENIED and service == Service.PULL:
        # The box refuses the pull storage: the user withdrew the consent since it was read.
        snapshot = snapshot_of(device)
        snapshot.consent = False
        snapshot.consent_read = timezone.now()
        snapshot.save(update_fields=["consent", "consent_read", "updated"])
        _hide_pull(device)
    if step == "delete":
        details = operation.details
        label = f"{details.get('crid') or 'item'} (item {details.get('instance')})"
        if task.fault_code == FaultCode.INVALID_PARAMETER_NAME:
            ContentItem.objects.filter(
                storage__device=device, storage__service=service, instance=details.get("instance")
            ).delete()
            _fail(
                operation,
                f"{label} was already gone from the box ({text}); nothing else was touched",
                Outcome.GONE,
            )
        else:
            _fail(operation, f"deleting {label} failed: {text}")
        record_event(
            CdsAuditKind.DELETE_FAILED,
            obj=device,
            actor=operation.actor,
            message=operation.message,
            details={**details, "reason": operation.reason, "task": task.pk},
        )
        return
    if step == "resize":
        faults = (task.result or {}).get("set_parameter_values_faults") or []
        detail = "; ".join(f"{f.get('name')}: {f.get('text')}" for f in faults) or text
        _fail(operation, f"the box refused the new quota: {detail}")
        record_event(
            CdsAuditKind.RESIZE_FAILED,
            obj=device,
            actor=operation.actor,
            message=operation.message,
            details={**operation.details, "task": task.pk},
        )
        return
    _fail(operation, f"reading {step}{' ' + service if service else ''} failed: {text}")


def _hide_pull(device: Device) -> None:
    Storage.objects.filter(device=device, service=Service.PULL).update(
        items_visible=False, capacity_mb=None, used_mb=None, fill_percent=None
    )
    ContentItem.objects.filter(storage__device=device, storage__service=Service.PULL).delete()


def _caps_done(operation: Operation, service: str, task: Task) -> None:
    device = operation.device
    paths = paths_for(device)
    push, pull = dm.capabilities(_tree(device.pk), paths)
    snapshot = snapshot_of(device)
    snapshot.push_capable, snapshot.pull_capable = push, pull
    snapshot.save(update_fields=["push_capable", "pull_capable", "updated"])
    services = tuple(s for s, capable in ((Service.PUSH, push), (Service.PULL, pull)) if capable)
    Storage.objects.filter(device=device).exclude(service__in=services).delete()
    if operation.kind == OperationKind.CONFIGURE and operation.service not in services:
        _fail(
            operation,
            f"the box has no CDS {SERVICE_NAMES[operation.service]} capability",
            Outcome.SKIPPED,
        )
    if not services:
        _fail(operation, "the box reports neither CDS push nor CDS pull capability", Outcome.DONE)
        return
    _queue(
        operation,
        "refs",
        m.GetParameterValues(paths.reference_names(services)),
        actor=None,
        first=False,
    )


def _refs_done(operation: Operation, service: str, task: Task) -> None:
    device = operation.device
    paths = paths_for(device)
    tree = _tree(device.pk)
    now = timezone.now()
    names = set((task.request or {}).get("names") or ())
    snapshot = snapshot_of(device)
    if paths.consent in names:
        snapshot.consent = dm.parse_boolean(dm.text_value(tree, paths.consent) or None)
        snapshot.consent_read = now
        snapshot.save(update_fields=["consent", "consent_read", "updated"])
    for svc in (Service.PUSH, Service.PULL):
        if paths.reference(svc) not in names:
            continue
        reference = dm.classify_reference(dm.text_value(tree, paths.reference(svc)))
        storage, _ = Storage.objects.get_or_create(device=device, service=svc)
        storage.reference = reference.path.rstrip(".") or dm.text_value(tree, paths.reference(svc))
        storage.kind = reference.kind
        managed = svc == Service.PUSH or snapshot.consent is True
        storage.items_visible = managed
        storage.save()
        if not managed:
            _hide_pull(device)
            if operation.kind == OperationKind.CONFIGURE and operation.service == svc:
                _fail(
                    operation,
                    "the user has not allowed the operator to manage the CDS pull storage "
                    "(X_DVB_CDSPull.RMSManagementEnabled is not true)",
                    Outcome.SKIPPED,
                )
            continue
        wanted = (*dm.usage_names(reference), paths.content(svc))
        _queue(operation, f"storage:{svc}", m.GetParameterValues(wanted), actor=None, first=False)


def _apply_usage(storage: Storage, tree: dict) -> None:
    reference = _reference(storage)
    usage = dm.usage(tree, reference)
    storage.name = usage.name
    storage.set_usage(usage.capacity_mb, usage.used_mb)
    storage.usage_read = timezone.now()


def _sync_items(storage: Storage, listed: list[dm.Item]) -> None:
    now = timezone.now()
    keep = {item.instance for item in listed}
    storage.items.exclude(instance__in=keep).delete()
    existing = {item.instance: item for item in storage.items.all()}
    for item in listed:
        fields = {
            "crid": item.crid,
            "version": item.version,
            "title": item.title,
            "size": item.size,
            "seen": now,
        }
        row = existing.get(item.instance)
        if row is None:
            ContentItem.objects.create(storage=storage, instance=item.instance, **fields)
        else:
            for name, value in fields.items():
                setattr(row, name, value)
            row.save()
    storage.items_read = now


def _storage_done(operation: Operation, service: str, task: Task) -> None:
    device = operation.device
    paths = paths_for(device)
    tree = _tree(device.pk)
    storage = Storage.objects.get(device=device, service=service)
    _apply_usage(storage, tree)
    listed, count = dm.items(tree, paths, service)
    stale = count is None or count != len(dm.instance_paths(tree, paths, service))
    if stale:
        # The tree holds items the box no longer lists: GetParameterNames prunes them.
        _queue(
            operation,
            f"reconcile:{service}",
            m.GetParameterNames(paths.content(service), False),
            actor=None,
            first=False,
        )
    else:
        _sync_items(storage, listed)
    storage.save()
    if operation.kind == OperationKind.CONFIGURE and service == operation.service:
        _configure(operation, storage)


def _reconcile_done(operation: Operation, service: str, task: Task) -> None:
    device = operation.device
    storage = Storage.objects.get(device=device, service=service)
    listed, _ = dm.items(_tree(device.pk), paths_for(device), service)
    _sync_items(storage, listed)
    storage.save(update_fields=["items_read"])


def _usage_done(operation: Operation, service: str, task: Task) -> None:
    storage = Storage.objects.filter(device=operation.device, service=service).first()
    if storage is None:
        return
    _apply_usage(storage, _tree(operation.device_id))
    storage.save()


def _queue_usage(operation: Operation, service: str) -> None:
    storage = Storage.objects.filter(device=operation.device, service=service).first()
    names = dm.usage_names(_reference(storage))
    if names:
        _queue(operation, f"usage:{service}", m.GetParameterValues(names), actor=None, first=False)


def _delete_done(operation: Operation, service: str, task: Task) -> None:
    device = operation.device
    details = operation.details
    ContentItem.objects.filter(
        storage__device=device, storage__service=service, instance=details.get("instance")
    ).delete()
    size = details.get("size")
    freed = f", {size / 1e6:.0f} MB freed" if isinstance(size, int) else ""
    operation.message = (
        f"{details.get('crid') or 'item'} (item {details.get('instance')}) deleted{freed}"
    )[:500]
    operation.save(update_fields=["message"])
    record_event(
        CdsAuditKind.ITEM_DELETED,
        obj=device,
        actor=operation.actor,
        message=f"{operation.message} from {device}: {operation.reason}"[:500],
        details={**details, "reason": operation.reason, "task": task.pk},
    )
    _queue_usage(operation, service)


def _resize_done(operation: Operation, service: str, task: Task) -> None:
    storage = Storage.objects.get(device=operation.device, service=service)
    capacity = operation.details.get("capacity_mb")
    storage.set_usage(capacity, storage.used_mb)
    storage.save()
    operation.message = f"quota set to {capacity} MB"
    operation.save(update_fields=["message"])
    if operation.kind == OperationKind.RESIZE:
        record_event(
            CdsAuditKind.RESIZED,
            obj=operation.device,
            actor=operation.actor,
            message=f"CDS {SERVICE_NAMES.get(service, service)} storage of {operation.device} "
            f"set to {capacity} MB",
            details={**operation.details, "task": task.pk},
        )
    _queue_usage(operation, service)


def _configure(operation: Operation, storage: Storage) -> None:
    """A configuration job's box: set the quota if the storage is a Folder (and, for pull, the
    user consented), else skip it with the reason."""
    capacity = operation.details.get("capacity_mb")
    reference = _reference(storage)
    refusal = dm.refusal_to_resize(storage.service, reference)
    if refusal is None and not storage.items_visible:
        refusal = "the user has not allowed the operator to manage the CDS pull storage"
    if refusal is None and storage.used_mb is not None and capacity < storage.used_mb:
        refusal = f"{capacity} MB is less than the {storage.used_mb} MB already used"
    if refusal is not None:
        _fail(operation, refusal, Outcome.SKIPPED)
        return
    if storage.capacity_mb == capacity:
        operation.message = f"quota already {capacity} MB"
        operation.save(update_fields=["message"])
        return
    _queue_resize(operation, reference, capacity, actor=None, first=False)


_DONE = {
    "caps": _caps_done,
    "refs": _refs_done,
    "storage": _storage_done,
    "reconcile": _reconcile_done,
    "usage": _usage_done,
    "delete": _delete_done,
    "resize": _resize_done,
}


# --- what pages and the API show ------------------------------------------------------------------


def operation_status(operation: Operation) -> tuple[str, str]:
    """(status, label): pending operations say whether the box has been asked yet."""
    if operation.outcome != Outcome.PENDING:
        return operation.outcome, Outcome(operation.outcome).label
    states = {step.task.state for step in operation.steps.all()}
    if TaskState.SENT in states:
        return "running", "In progress (the box is in session)"
    if TaskState.QUEUED in states:
        return "waiting", "Waiting for the box (connection request sent)"
    return "expired", "Expired before the box answered"


def step_rpcs() -> tuple[str, ...]:
    return (
        TaskRpc.GET_PARAMETER_VALUES,
        TaskRpc.GET_PARAMETER_NAMES,
        TaskRpc.SET_PARAMETER_VALUES,
        TaskRpc.DELETE_OBJECT,
    )
