"""The NOC console for rollouts (mounted at /rollouts/): list, creation wizard with the wave
preview, live progress page, controls, per-device outcomes with CSV export. Thin adapters: every
queryset through `restrict()`, every change through `fus.rollouts.services`."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseNotAllowed, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from fus.models import FirmwarePackage, Rollout, RolloutDevice, RolloutWave
from fus.rollouts import plan, progress, services
from fus.rollouts.choices import DeviceState, RolloutStatus
from fus.rollouts.forms import RolloutForm
from portal.permissions import can, get_for_user_or_404
from portal.views.generic import error_messages

PER_PAGE = 50
CONTROLS = {
    "start": services.start_rollout,
    "pause": services.pause_rollout,
    "resume": services.resume_rollout,
    "cancel": services.cancel_rollout,
    "deactivate": services.deactivate_rollout,
    "retry-failed": services.retry_failed,
    "replan": services.replan_rollout,
}


def with_counts(queryset):
    """Rollouts with their device counts per outcome (one query): members, plus the planned
    devices of waves not released yet (their member rows are written at release)."""
    unreleased = (
        RolloutWave.objects.filter(rollout=OuterRef("pk"), released_at__isnull=True)
        .order_by()
        .values("rollout")
        .annotate(n=Sum("size"))
        .values("n")
    )
    return queryset.annotate(
        n_members=Count("members") + Coalesce(Subquery(unreleased), 0),
        n_succeeded=Count("members", filter=Q(members__state=DeviceState.SUCCEEDED)),
        n_failed=Count(
            "members",
            filter=Q(members__state__in=(DeviceState.FAILED, DeviceState.TIMED_OUT)),
        ),
        n_in_flight=Count("members", filter=Q(members__state=DeviceState.IN_FLIGHT)),
    )


@login_required
def rollout_list(request):
    rollouts = Rollout.objects.restrict(request.user, "view").select_related("package")
    status = request.GET.get("status", "")
    if status in RolloutStatus.values:
        rollouts = rollouts.filter(status=status)
    page = Paginator(with_counts(rollouts).order_by("-created", "-pk"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "fus/rollouts/list.html",
        {
            "title": "Rollouts",
            "page": page,
            "status": status,
            "statuses": RolloutStatus.choices,
            "may_add": can(request.user, Rollout, "add"),
        },
    )


@login_required
def rollout_create(request):
    if not can(request.user, Rollout, "add"):
        raise PermissionDenied
    initial = {}
    if "package" in request.GET:
        initial["package"] = request.GET["package"]
    form = RolloutForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        package = get_for_user_or_404(
            FirmwarePackage, request.user, "view", pk=form.cleaned_data["package"].pk
        )
        try:
            rollout = services.create_rollout(package, form.spec(), actor=request.user)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Rollout {rollout} planned: check the waves, then start it.")
            return redirect(rollout)
    return render(
        request,
        "fus/rollouts/form.html",
        {"title": "New rollout", "form": form, "step": 1},
    )


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error_messages(exc))


@login_required
def rollout_edit(request, pk: int):
    rollout = get_for_user_or_404(Rollout, request.user, "change", pk=pk)
    if rollout.status != RolloutStatus.DRAFT:
        messages.error(request, "Only draft rollouts can be edited.")
        return redirect(rollout)
    form = RolloutForm(
        request.POST or None, user=request.user, initial=RolloutForm.initial_from(rollout)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_rollout(rollout, form.spec(), actor=request.user)
        except (ValidationError, services.RolloutStateError) as exc:
            if isinstance(exc, ValidationError):
                _form_errors(form, exc)
            else:
                form.add_error(None, str(exc))
        else:
            messages.success(request, "Rollout planned again.")
            return redirect(rollout)
    return render(
        request,
        "fus/rollouts/form.html",
        {"title": f"Edit {rollout}", "form": form, "rollout": rollout, "step": 1},
    )


@login_required
def rollout_detail(request, pk: int):
    rollout = get_for_user_or_404(
        Rollout.objects.select_related("package", "created_by"), request.user, "view", pk=pk
    )
    state = progress.snapshot(rollout.pk, request.user)
    return render(
        request,
        "fus/rollouts/detail.html",
        {
            "title": str(rollout),
            "object": rollout,
            "state": state,
            "all_controls": progress.ALL_CONTROLS if can(request.user, Rollout, "operate") else (),
            "preview": plan.wave_preview(rollout, per_wave=10)
            if rollout.status == RolloutStatus.DRAFT
            else None,
            "may_edit": rollout.status == RolloutStatus.DRAFT
            and can(request.user, Rollout, "change"),
            "recent": rollout.members.exclude(state__in=(DeviceState.PENDING,))
            .exclude(finished_at=None)
            .order_by("-finished_at", "-pk")[:10],
        },
    )


@login_required
def rollout_live(request, pk: int):
    state = progress.snapshot(pk, request.user)
    if state is None:
        raise Http404("No rollout matches the given query.")
    return JsonResponse(state)


@login_required
@require_POST
def rollout_action(request, pk: int, action: str):
    if action not in CONTROLS and action != "approve":
        raise Http404(f"No control {action!r}.")
    rollout = get_for_user_or_404(Rollout, request.user, "operate", pk=pk)
    try:
        if action == "approve":
            try:
                number = int(request.POST.get("wave", ""))
            except ValueError:
                raise services.RolloutStateError(
                    f"wave: {request.POST.get('wave')!r} is not a wave number"
                ) from None
            wave = services.approve_wave(rollout, number, actor=request.user)
            messages.success(request, f"Wave {wave.name!r} approved.")
        else:
            CONTROLS[action](rollout, actor=request.user)
            messages.success(request, f"{rollout}: {action.replace('-', ' ')} done.")
    except services.RolloutStateError as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, "; ".join(error_messages(exc)))
    return redirect("rollouts:detail", pk=rollout.pk)


CSV_COLUMNS = (
    "wave",
    "rank",
    "oui",
    "product_class",
    "serial_number",
    "channel",
    "state",
    "confirmed",
    "fault_code",
    "source",
    "detail",
    "started_at",
    "finished_at",
    "task_id",
)


@login_required
def rollout_devices(request, pk: int):
    """Per-device outcomes (filter by state and wave; CSV export of the whole filtered list)."""
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    rollout = get_for_user_or_404(Rollout, request.user, "view", pk=pk)
    rows = RolloutDevice.objects.restrict(request.user, "view").filter(rollout=rollout)
    state = request.GET.get("state", "")
    if state == "failures":
        rows = rows.filter(state__in=(DeviceState.FAILED, DeviceState.TIMED_OUT))
    elif state in DeviceState.values:
        rows = rows.filter(state=state)
    wave = request.GET.get("wave", "")
    if wave.isdigit():
        rows = rows.filter(wave=int(wave))
    q = request.GET.get("q", "").strip()
    if q:
        rows = rows.filter(serial_number__icontains=q)
    rows = rows.order_by("wave", "rank", "pk")
    if request.GET.get("export") == "csv":
        return _csv(rollout, rows, _planned_rows(rollout, state, wave, q))
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "fus/rollouts/devices.html",
        {
            "title": f"{rollout}: devices",
            "object": rollout,
            "page": page,
            "state": state,
            "wave": wave,
            "q": q,
            "states": DeviceState.choices,
            "waves": rollout.waves.all(),
            "query": request.GET.urlencode(),
        },
    )


class _Echo:
    def write(self, value):
        return value


def _planned_rows(rollout, state: str, wave: str, q: str):
    """The devices of waves not released yet (no member rows before the release: the planned
    slice of the population, pending), as CSV rows under the same filters."""
    if state not in ("", DeviceState.PENDING):
        return
    channel = plan.device_channel(rollout.channels)
    for w in rollout.waves.filter(released_at__isnull=True):
        if wave.isdigit() and int(wave) != w.number:
            continue
        for row in plan.wave_devices(rollout, w):
            if q and q.lower() not in row["serial_number"].lower():
                continue
            yield (
                w.number,
                row["rank"],
                row["oui"],
                row["product_class"],
                row["serial_number"],
                channel,
                DeviceState.PENDING.value,
                False,
                None,
                "",
                "",
                None,
                None,
                None,
            )


def _csv(rollout, rows, planned=()):
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(CSV_COLUMNS)
        for row in rows.values_list(*CSV_COLUMNS).iterator(chunk_size=2000):
            yield writer.writerow([v.isoformat() if hasattr(v, "isoformat") else v for v in row])
        for row in planned:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rollout-{rollout.pk}-devices.csv"'
    return response
