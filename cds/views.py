"""Help-desk pages of the CDS storage: find a box (serial, MAC, IP, customer reference), the
storage cards on the device page (`cds_tags.cds_storage`), their actions (read, delete with a
confirmation and a reason, resize, customer reference), the nearly-full report and the bulk
configuration jobs. Adapters only: `restrict()` for every query, one service call per action.
"""

from __future__ import annotations

import csv
import hashlib
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from acs.models import Device
from cds import access, presenters
from cds.choices import JobState, Service
from cds.models import ConfigurationJob, CustomerReference, Storage
from cds.services import bulk
from cds.services import storage as services
from fus.models import DeviceClass
from portal.permissions import can, get_for_user_or_404

NEARLY_FULL_DEFAULT = 90
SEARCH_LIMIT = 50


def _device_url(device: Device) -> str:
    return reverse("devices:device", args=[device.pk]) + "#cds"


def cards_context(request, device: Device) -> dict:
    user = request.user
    data = presenters.device_storage(device)
    acts = access.acts_for(user, device)
    acts["customer"] = can(user, CustomerReference, "change") and acts["refresh"]
    version = hashlib.sha256(
        json.dumps(
            {k: v for k, v in data.items() if k not in ("at", "age_seconds")}, default=str
        ).encode()
    ).hexdigest()[:16]
    return {
        "device": device,
        "cds": data,
        "acts": acts,
        "age": presenters.age_text(data["age_seconds"]),
        "pending_ops": [op for op in data["operations"] if op["pending"]],
        "version": version,
    }


@login_required
def cards(request, pk):
    """The cards alone: what the page fetches when the websocket says the box changed."""
    device = access.visible_device(request.user, pk)
    return render(request, "cds/_cards.html", cards_context(request, device))


def _back(device: Device) -> HttpResponseRedirect:
    return HttpResponseRedirect(_device_url(device))


@login_required
@require_POST
def refresh(request, pk):
    device = access.actable_device(request.user, pk, "refresh")
    operation = services.refresh_storage(device, actor=request.user)
    messages.success(
        request,
        f"CDS storage read queued (operation #{operation.pk}); the box answers in its next session.",
    )
    return _back(device)


def _instances(values) -> list[int]:
    out = []
    for value in values[: services.MAX_DELETE + 1]:
        if not value.isdigit():
            raise services.CdsError(f"items: {value!r} is not an item number")
        out.append(int(value))
    return out


@login_required
@require_POST
def delete(request, pk):
    """First POST (from the cards): the confirmation page with the items and a reason field;
    the confirmation's POST deletes them."""
    device = access.actable_device(request.user, pk, "delete")
    service = request.POST.get("service", "")
    try:
        instances = _instances(request.POST.getlist("items"))
        if service not in Service.values:
            raise services.CdsError(f"service: {service!r} is not push or pull")
        if not instances:
            raise services.CdsError("items: choose at least one content item to delete")
    except services.CdsError as exc:
        messages.error(request, f"Delete refused: {exc}")
        return _back(device)
    reason = request.POST.get("reason", "")
    if request.POST.get("confirm") == "yes":
        try:
            operations = services.delete_items(
                device, service, instances, actor=request.user, reason=reason
            )
        except services.CdsError as exc:
            if not exc.args[0].startswith("reason:"):
                messages.error(request, f"Delete refused: {exc}")
                return _back(device)
            error = str(exc)
        else:
            count = len(operations)
            messages.success(
                request,
                f"Deletion of {count} item{'s' if count != 1 else ''} queued; the box runs it in "
                "its next session (a connection request was sent).",
            )
            return _back(device)
    else:
        error = ""
    storage = Storage.objects.filter(device=device, service=service).first()
    items = list(storage.items.filter(instance__in=instances)) if storage else []
    missing = sorted(set(instances) - {i.instance for i in items})
    return render(
        request,
        "cds/delete_confirm.html",
        {
            "title": f"Delete CDS content from {device.serial_number}",
            "device": device,
            "service": service,
            "service_label": Service(service).label,
            "items": items,
            "missing": missing,
            "reason": reason,
            "error": error,
            "total_size": sum(i.size or 0 for i in items),
            "cancel_url": _device_url(device),
        },
    )


@login_required
@require_POST
def resize(request, pk):
    device = access.actable_device(request.user, pk, "resize")
    service = request.POST.get("service", "")
    text = request.POST.get("capacity_mb", "").strip()
    try:
        if not text.isdigit():
            raise services.CdsError(f"capacity_mb: {text[:20]!r} is not a whole number of MB")
        operation = services.resize_storage(
            device,
            service,
            int(text),
            actor=request.user,
            reason=request.POST.get("reason", ""),
        )
    except services.CdsError as exc:
        messages.error(request, f"Resize refused: {exc}")
        return _back(device)
    messages.success(
        request,
        f"Resize to {operation.details['capacity_mb']} MB queued (operation #{operation.pk}).",
    )
    return _back(device)


@login_required
@require_POST
def customer(request, pk):
    device = access.actable_device(request.user, pk, "refresh")
    if not can(request.user, CustomerReference, "change"):
        raise PermissionDenied
    try:
        services.set_customer_reference(
            device, request.POST.get("reference", ""), actor=request.user
        )
    except services.CdsError as exc:
        messages.error(request, f"Customer reference refused: {exc}")
        return _back(device)
    messages.success(request, "Customer reference saved.")
    return _back(device)


@login_required
def search(request):
    """The help desk's entry: one field for serial number, MAC, IP or customer reference."""
    if not access.may(request.user, "view"):
        raise PermissionDenied
    query = request.GET.get("q", "").strip()[:100]
    results = []
    if query:
        devices = services.find_devices(Device.objects.restrict(request.user, "view"), query)
        results = list(
            devices.select_related("customer", "cds_snapshot").order_by("serial_number")[
                : SEARCH_LIMIT + 1
            ]
        )
        if len(results) == 1:
            return HttpResponseRedirect(_device_url(results[0]))
    fills = {}
    if results:
        for s in Storage.objects.filter(device__in=results[:SEARCH_LIMIT]):
            fills.setdefault(s.device_id, {})[s.service] = s
    rows = [
        {
            "device": d,
            "customer": getattr(d, "customer", None),
            "push": fills.get(d.pk, {}).get(Service.PUSH),
            "pull": fills.get(d.pk, {}).get(Service.PULL),
        }
        for d in results[:SEARCH_LIMIT]
    ]
    return render(
        request,
        "cds/search.html",
        {
            "title": "Help desk: find a set-top box",
            "query": query,
            "rows": rows,
            "more": len(results) > SEARCH_LIMIT,
        },
    )


def _percent(value: str) -> int:
    return int(value) if value.isdigit() and 1 <= int(value) <= 100 else NEARLY_FULL_DEFAULT


@login_required
def nearly_full(request):
    """Boxes whose CDS storage is at least `percent` full (as last read), fullest first."""
    if not access.may(request.user, "view"):
        raise PermissionDenied
    percent = _percent(request.GET.get("percent", ""))
    service = request.GET.get("service", "")
    service = service if service in Service.values else ""
    storages = bulk.nearly_full(
        Storage.objects.restrict(request.user, "view"), percent=percent, service=service or None
    )
    if request.GET.get("export") == "csv":
        return _csv(storages)
    page = list(storages[:500])
    return render(
        request,
        "cds/nearly_full.html",
        {
            "title": "CDS storage nearly full",
            "rows": page,
            "percent": percent,
            "service": service,
            "services": Service.choices,
            "truncated": len(page) == 500,
        },
    )


def _csv(storages) -> StreamingHttpResponse:
    class Echo:
        def write(self, value):
            return value

    writer = csv.writer(Echo())

    def rows():
        yield writer.writerow(
            [
                "serial_number",
                "oui",
                "product_class",
                "customer_reference",
                "service",
                "kind",
                "capacity_mb",
                "used_mb",
                "fill_percent",
                "usage_read",
            ]
        )
        for s in storages.iterator(chunk_size=1000):
            customer = getattr(s.device, "customer", None)
            yield writer.writerow(
                [
                    s.device.serial_number,
                    s.device.oui,
                    s.device.product_class,
                    customer.reference if customer else "",
                    s.service,
                    s.kind,
                    s.capacity_mb,
                    s.used_mb,
                    s.fill_percent,
                    s.usage_read.isoformat() if s.usage_read else "",
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="cds-nearly-full.csv"'
    return response


# --- configuration jobs ---------------------------------------------------------------------------


def _jobs_user(request):
    if not access.may(request.user, "jobs"):
        raise PermissionDenied


@login_required
def jobs(request):
    _jobs_user(request)
    error = ""
    if request.method == "POST":
        data = request.POST
        device_class = None
        try:
            if data.get("device_class"):
                device_class = get_for_user_or_404(
                    DeviceClass, request.user, "view", pk=data["device_class"]
                )
            for name in ("capacity_mb", "rate_per_minute"):
                if not data.get(name, "").strip().isdigit():
                    raise services.CdsError(f"{name}: {data.get(name, '')[:20]!r} is not a number")
            job = bulk.create_job(
                name=data.get("name", ""),
                service=data.get("service", ""),
                capacity_mb=int(data["capacity_mb"]),
                rate_per_minute=int(data["rate_per_minute"]),
                device_class=device_class,
                software_version=data.get("software_version", ""),
                tag=data.get("tag", ""),
                actor=request.user,
            )
        except services.CdsError as exc:
            error = str(exc)
        else:
            messages.success(request, f"Job {job.name!r} created; start it when ready.")
            return HttpResponseRedirect(reverse("cds:job", args=[job.pk]))
    return render(
        request,
        "cds/jobs.html",
        {
            "title": "CDS storage configuration jobs",
            "jobs": ConfigurationJob.objects.restrict(request.user, "view").select_related(
                "device_class"
            )[:100],
            "device_classes": DeviceClass.objects.restrict(request.user, "view"),
            "services": Service.choices,
            "error": error,
            "form": request.POST if request.method == "POST" else {},
        },
    )


@login_required
def job(request, pk):
    _jobs_user(request)
    job = get_for_user_or_404(ConfigurationJob.objects.all(), request.user, "view", pk=pk)
    if request.method == "POST":
        op = request.POST.get("op", "")
        actions = {"start": bulk.start_job, "pause": bulk.pause_job, "cancel": bulk.cancel_job}
        if op not in actions:
            messages.error(request, f"Unknown job operation {op!r}.")
        else:
            try:
                actions[op](job, actor=request.user)
                messages.success(request, f"Job {job.name!r}: {op} done.")
            except services.CdsError as exc:
                messages.error(request, f"Job {job.name!r}: {exc}")
        return HttpResponseRedirect(reverse("cds:job", args=[job.pk]))
    return render(
        request,
        "cds/job.html",
        {
            "title": f"CDS configuration job {job.name}",
            "job": job,
            "counts": bulk.job_counts(job),
            "targets": job.targets.select_related("device").order_by("-finished", "pk")[:100],
            "states": JobState,
        },
    )
