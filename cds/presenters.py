"""The CDS state of one box as pages, the websocket and the REST API show it (one shape)."""

from __future__ import annotations

from django.utils import timezone

from acs.choices import DeviceEventKind
from acs.models import Device, DeviceEvent
from cds import datamodel as dm
from cds.choices import Service
from cds.models import Operation, Storage, StorageSnapshot
from cds.services.storage import operation_status

OPERATIONS_SHOWN = 15


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _mb(value: int | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.1f} GB" if value >= 10_000 else f"{value} MB"


def storage_data(storage: Storage | None, service: str, snapshot: StorageSnapshot | None) -> dict:
    capable = None
    if snapshot is not None:
        capable = snapshot.push_capable if service == Service.PUSH else snapshot.pull_capable
    data = {
        "service": service,
        "label": Service(service).label,
        "capable": capable,
        "read": storage is not None,
    }
    if storage is None:
        return data
    reference = dm.classify_reference(storage.reference)
    consent_needed = service == Service.PULL
    data.update(
        {
            "reference": storage.reference,
            "kind": storage.kind,
            "kind_label": storage.get_kind_display(),
            "name": storage.name,
            "resizable": reference.resizable and storage.items_visible,
            "not_resizable_reason": dm.refusal_to_resize(service, reference),
            "capacity_mb": storage.capacity_mb,
            "used_mb": storage.used_mb,
            "free_mb": storage.free_mb,
            "capacity_text": _mb(storage.capacity_mb),
            "used_text": _mb(storage.used_mb),
            "free_text": _mb(storage.free_mb),
            "fill_percent": storage.fill_percent,
            "usage_read": _iso(storage.usage_read),
            "items_read": _iso(storage.items_read),
            "managed": storage.items_visible,
            "consent_needed": consent_needed,
            "items": [
                {
                    "instance": item.instance,
                    "crid": item.crid,
                    "version": item.version,
                    "title": item.title,
                    "size": item.size,
                    "size_text": _mb(-(-item.size // 1_000_000)) if item.size is not None else "—",
                }
                for item in storage.items.all()
            ]
            if storage.items_visible
            else [],
        }
    )
    return data


def operation_data(operation: Operation) -> dict:
    status, label = operation_status(operation)
    return {
        "id": operation.pk,
        "kind": operation.kind,
        "kind_label": operation.get_kind_display(),
        "service": operation.service,
        "status": status,
        "status_label": label,
        "pending": status in ("waiting", "running"),
        "message": operation.message,
        "reason": operation.reason,
        "actor": operation.actor_name,
        "details": operation.details,
        "created": _iso(operation.created),
        "finished": _iso(operation.finished),
        "tasks": [step.task_id for step in operation.steps.all()],
    }


def device_storage(device: Device) -> dict:
    """Everything the CDS cards and GET /api/devices/{id}/cds/ show."""
    snapshot = StorageSnapshot.objects.filter(device=device).first()
    storages = {
        s.service: s for s in Storage.objects.filter(device=device).prefetch_related("items")
    }
    operations = list(
        Operation.objects.filter(device=device)
        .prefetch_related("steps__task")
        .order_by("-created", "-pk")[:OPERATIONS_SHOWN]
    )
    ops = [operation_data(op) for op in operations]
    age = snapshot.age if snapshot is not None else None
    last_request = (
        DeviceEvent.objects.filter(device=device, kind=DeviceEventKind.CONNECTION_REQUEST)
        .order_by("-timestamp", "-pk")
        .first()
    )
    customer = getattr(device, "customer", None)
    return {
        "device": device.pk,
        "serial_number": device.serial_number,
        "customer_reference": customer.reference if customer is not None else "",
        "online": device.is_online,
        "read_at": _iso(snapshot.read_at) if snapshot else None,
        "age_seconds": int(age.total_seconds()) if age is not None else None,
        "error": snapshot.error if snapshot else "",
        "push_capable": snapshot.push_capable if snapshot else None,
        "pull_capable": snapshot.pull_capable if snapshot else None,
        "consent": snapshot.consent if snapshot else None,
        "consent_read": _iso(snapshot.consent_read) if snapshot else None,
        "storages": [
            storage_data(storages.get(service), service, snapshot) for service in Service.values
        ],
        "operations": ops,
        "pending": any(op["pending"] for op in ops),
        "last_connection_request": {
            "at": _iso(last_request.timestamp),
            "message": last_request.message,
        }
        if last_request is not None
        else None,
        "at": timezone.now().isoformat(),
    }


def age_text(seconds: int | None) -> str:
    if seconds is None:
        return "never read"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"
