"""Device pages: the list (filters, keyset pages, saved searches, CSV, bulk actions), the device
page (summary, parameter tree, tasks, faults, events, transcripts, version history), its actions,
and the live-state JSON the page polls when its websocket is down.

Adapters only: every query passes `restrict()`, every change is one call of `acs.services`.
"""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.decorators.http import require_POST

from acs.choices import TaskState
from acs.conf import acs_settings
from acs.models import (
    CwmpSession,
    Device,
    DeviceEvent,
    DeviceParameters,
    SessionTranscript,
    SoftwareVersionChange,
    Task,
)
from acs.services import connection as connection_services
from acs.services import tasks as task_services
from acs.services.firmware import applicable_packages
from acs.ui import bulk, keyset, live
from acs.ui.filtersets import DeviceFilterSet, narrowed
from acs.ui.forms import (
    ObjectForm,
    PushFirmwareForm,
    RefreshForm,
    SavedFilterForm,
    SetValueForm,
    approved_packages,
)
from acs.ui.tables import COLUMNS, FIELDS, csv_row
from portal.models import SavedFilter
from portal.permissions import can, get_for_user_or_404
from portal.views.generic import ObjectView

PAGING_PARAMS = ("after", "before", "export")
PARAMS_PER_PAGE = 100
MAX_SELECTED = 1000


def _list_path() -> str:
    return reverse("devices:list")


def filter_query(data) -> str:
    """The filter part of a list query string (no paging, no export)."""
    query = data.copy()
    for key in PAGING_PARAMS:
        query.pop(key, None)
    return query.urlencode()


def _list_url(query: str) -> str:
    return _list_path() + (f"?{query}" if query else "")


# --- the device list ------------------------------------------------------------------------------


class DeviceListView(LoginRequiredMixin, View):
    per_page = 50
    template_name = "acs/device_list.html"

    def get(self, request):
        base = narrowed(Device.objects.restrict(request.user, "view"), request.user).only(*FIELDS)
        query = filter_query(request.GET)
        data = request.GET.copy()
        for key in PAGING_PARAMS:
            data.pop(key, None)
        filterset = DeviceFilterSet(data or None, queryset=base, request=request)
        if filterset.is_bound and not filterset.is_valid():
            queryset = base.none()
        else:
            queryset = filterset.qs if filterset.is_bound else base
        if request.GET.get("export") == "csv":
            return export_csv(queryset)
        try:
            page = keyset.paginate(
                queryset,
                after=request.GET.get("after") or None,
                before=request.GET.get("before") or None,
                per_page=self.per_page,
            )
        except keyset.CursorError as exc:
            messages.error(request, f"Page position ignored: {exc}.")
            page = keyset.paginate(queryset, per_page=self.per_page)
        may_act = bulk.may_act(request.user)
        saved = SavedFilter.objects.filter(user=request.user, path=_list_path())
        return render(
            request,
            self.template_name,
            {
                "title": "Devices",
                "devices": page.rows,
                "columns": COLUMNS,
                "now": timezone.now(),
                "page": page,
                "filter_form": filterset.form,
                "query": query,
                "first_url": _list_url(query),
                "next_url": _list_url(_join(query, after=page.next_cursor))
                if page.has_next
                else None,
                "prev_url": _list_url(_join(query, before=page.prev_cursor))
                if page.has_prev
                else None,
                "export_url": _list_url(_join(query, export="csv")),
                "saved_searches": saved,
                "save_form": SavedFilterForm(initial={"query": query}),
                "bulk_actions": bulk.ACTIONS if may_act else {},
                "packages": approved_packages(request.user) if may_act else [],
            },
        )

    def post(self, request):
        user = request.user
        action = request.POST.get("action", "")
        scope = request.POST.get("scope", "selected")
        query = request.POST.get("query", "")
        back = HttpResponseRedirect(_list_url(query))
        if action not in bulk.ACTIONS:
            messages.error(request, f"Unknown bulk action {action!r}.")
            return back
        if not bulk.may_act(user):
            raise PermissionDenied
        label = bulk.ACTIONS[action]
        package = None
        if action == "push_firmware":
            package_id = request.POST.get("package", "")
            package = (
                approved_packages(user).filter(pk=package_id).first()
                if package_id.isdigit()
                else None
            )
            if package is None:
                messages.error(request, f"{label}: choose an approved firmware package.")
                return back
        if scope == "selected":
            pks = [pk for pk in request.POST.getlist("pk") if pk.isdigit()][:MAX_SELECTED]
            devices = list(bulk.actable(user).filter(pk__in=pks).order_by("pk"))
            if not devices:
                messages.warning(request, f"{label}: no device selected that you may act on.")
                return back
            _report(
                request, label, bulk.run(action, devices, actor=user, kick=True, package=package)
            )
            return back
        if scope.startswith("saved"):
            saved_id = request.POST.get("saved", "") or scope.partition(":")[2]
            saved = (
                SavedFilter.objects.filter(user=user, path=_list_path(), pk=saved_id).first()
                if saved_id.isdigit()
                else None
            )
            if saved is None:
                messages.error(request, f"{label}: choose one of your saved searches.")
                return back
            query = saved.query
            back = HttpResponseRedirect(_list_url(query))
        elif scope != "filter":
            messages.error(request, f"Unknown scope {scope!r}.")
            return back
        try:
            devices = bulk.filtered(user, query)
        except ValueError as exc:
            messages.error(request, f"{label}: {exc}")
            return back
        count = devices.count()
        if request.POST.get("confirm") != "yes":
            return render(
                request,
                "acs/bulk_confirm.html",
                {
                    "title": f"{label}: confirm",
                    "label": label,
                    "action": action,
                    "count": count,
                    "query": query,
                    "scope": "saved" if scope.startswith("saved") else scope,
                    "saved": saved.pk if scope.startswith("saved") else "",
                    "package": package,
                    "cancel_url": _list_url(query),
                    "background": count > bulk.inline_limit(),
                },
            )
        if count == 0:
            messages.warning(request, f"{label}: the search matches no device you may act on.")
            return back
        if count <= bulk.inline_limit():
            result = bulk.run_filter(user, action, query, package_id=package and package.pk)
            _report(request, label, result)
            return back
        from acs.ui.tasks import bulk_action

        package_id = package.pk if package is not None else None
        transaction.on_commit(
            lambda: bulk_action.delay(
                user_id=user.pk, action=action, query=query, package_id=package_id
            )
        )
        messages.info(
            request,
            f"{label}: being queued in the background for the {count} devices of the search; "
            "each box runs it at its next session.",
        )
        return back


def _join(query: str, **extra) -> str:
    extra = {k: v for k, v in extra.items() if v}
    if not extra:
        return query
    return "&".join(p for p in (query, urlencode(extra)) if p)


def _report(request, label: str, result: bulk.BulkResult) -> None:
    if result.done:
        messages.success(
            request,
            f"{label}: queued for {result.done} device{'s' if result.done != 1 else ''}.",
        )
    if result.skipped:
        messages.warning(
            request,
            f"{label}: {result.skipped} device{'s' if result.skipped != 1 else ''} skipped.",
        )
        for reason in result.reasons:
            messages.error(request, reason)


def export_csv(queryset) -> StreamingHttpResponse:
    """Every device of the filter, streamed in keyset chunks (no OFFSET, bounded memory)."""

    class Echo:
        def write(self, value):
            return value

    writer = csv.writer(Echo())

    def rows():
        yield writer.writerow([label for _, label in COLUMNS])
        after = None
        while True:
            page = keyset.paginate(queryset, after=after, per_page=1000)
            for device in page.rows:
                yield writer.writerow(csv_row(device))
            if not page.has_next:
                return
            after = page.next_cursor

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="devices.csv"'
    return response


@login_required
@require_POST
def save_search(request):
    form = SavedFilterForm(request.POST)
    query = filter_query(_querydict(request.POST.get("query", "")))
    if not form.is_valid():
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"Saved search {field}: {error}")
        return HttpResponseRedirect(_list_url(query))
    name = form.cleaned_data["name"]
    with transaction.atomic():
        _, created = SavedFilter.objects.update_or_create(
            user=request.user, path=_list_path(), name=name, defaults={"query": query}
        )
    messages.success(request, f"Search {name!r} {'saved' if created else 'updated'}.")
    return HttpResponseRedirect(_list_url(query))


@login_required
@require_POST
def delete_search(request, pk):
    saved = SavedFilter.objects.filter(user=request.user, pk=pk).first()
    if saved is None:
        raise Http404("No such saved search.")
    saved.delete()
    messages.success(request, f"Search {saved.name!r} deleted.")
    return HttpResponseRedirect(_list_path())


def _querydict(text: str):
    from django.http import QueryDict

    return QueryDict(text[:2000])


# --- the device page ------------------------------------------------------------------------------


def parameter_rows(tree: dict, search: str) -> list[tuple[str, list]]:
    """Paths of the tree matching `search` (a path prefix when it ends with '.', else a
    case-insensitive substring of the path or the value), sorted."""
    search = search.strip()
    if not search:
        items = tree.items()
    elif search.endswith("."):
        items = ((p, v) for p, v in tree.items() if p.startswith(search))
    else:
        needle = search.lower()
        items = (
            (p, v)
            for p, v in tree.items()
            if needle in p.lower() or (v and v[0] is not None and needle in str(v[0]).lower())
        )
    return sorted(items)


def _int(value, default: int = 1) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return default


class DeviceView(ObjectView):
    queryset = Device.objects.select_related("device_class__manufacturer")
    template_name = "acs/device.html"

    def get_extra_context(self, request, obj):
        user = request.user
        may_act = bulk.may_act(user) and bulk.actable(user).filter(pk=obj.pk).exists()
        context = {
            "may_act": may_act,
            "may_manage_tasks": may_act and can(user, Task, "change"),
            "ws_path": f"/ws/devices/{obj.pk}/",
            "in_session": CwmpSession.objects.filter(device=obj).exists(),
            "live_url": reverse("devices:live", args=[obj.pk]),
        }
        context.update(self._parameters(request, obj))
        see_tasks = can(user, Task, "view")
        tasks = Task.objects.restrict(user, "view").filter(device=obj)
        context["see_tasks"] = see_tasks
        context["tasks"] = [live.task_row(t) for t in tasks.order_by("-pk")[: live.TASKS_SHOWN]]
        context["faults"] = tasks.filter(state=TaskState.FAULT).order_by("-completed", "-pk")[:20]
        context["see_events"] = can(user, DeviceEvent, "view")
        context["events"] = DeviceEvent.objects.restrict(user, "view").filter(device=obj)[:50]
        context["see_transcripts"] = can(user, SessionTranscript, "view")
        # The newest CWMP_TRANSCRIPTS (a device may hold up to 2N - 1 between prunes).
        context["transcripts"] = SessionTranscript.objects.restrict(user, "view").filter(
            device=obj
        )[: acs_settings().transcripts]
        context["versions"] = SoftwareVersionChange.objects.restrict(user, "view").filter(
            device=obj
        )[:20]
        if may_act:
            context.update(self._action_forms(request, obj))
        return context

    def _parameters(self, request, obj) -> dict:
        params = DeviceParameters.objects.restrict(request.user, "view").filter(device=obj).first()
        if params is None:
            return {
                "see_parameters": can(request.user, DeviceParameters, "view"),
                "parameters": None,
            }
        search = request.GET.get("pq", "")[:256]
        rows = parameter_rows(params.tree, search)
        pages = max(1, -(-len(rows) // PARAMS_PER_PAGE))
        number = min(_int(request.GET.get("pp")), pages)
        start = (number - 1) * PARAMS_PER_PAGE
        base = {"pq": search} if search else {}
        return {
            "see_parameters": True,
            "parameters": params,
            "parameter_search": search,
            "parameter_rows": [
                {"path": p, "value": v[0], "type": v[1], "writable": v[2]}
                for p, v in rows[start : start + PARAMS_PER_PAGE]
            ],
            "parameter_total": len(params.tree),
            "parameter_matches": len(rows),
            "parameter_page": number,
            "parameter_pages": pages,
            "parameter_prev": urlencode({**base, "pp": number - 1}) if number > 1 else None,
            "parameter_next": urlencode({**base, "pp": number + 1}) if number < pages else None,
        }

    def _action_forms(self, request, obj) -> dict:
        user = request.user
        initial = {}
        prefill = request.GET.get("set", "")[:256]
        if prefill:
            params = getattr(obj, "parameters", None)
            entry = (params.tree.get(prefill) if params else None) or [None, None, None]
            initial = {"name": prefill, "value": entry[0] or "", "type": entry[1] or "string"}
        packages = approved_packages(user)
        applicable = []
        if obj.device_class_id is not None:
            # Managed-mode packages the targeting engine finds for the box, best first.
            allowed = set(packages.values_list("pk", flat=True))
            applicable = [p for p in applicable_packages(obj) if p.pk in allowed]
        applicable_ids = {p.pk for p in applicable}
        others = (
            list(packages.filter(device_classes=obj.device_class).exclude(pk__in=applicable_ids))
            if obj.device_class_id is not None
            else []
        )
        return {
            "set_form": SetValueForm(initial=initial),
            "add_form": ObjectForm(prefix="add"),
            "delete_form": ObjectForm(prefix="delete"),
            "refresh_form": RefreshForm(),
            "applicable_packages": applicable,
            "other_packages": others,
        }


# --- actions --------------------------------------------------------------------------------------

ACTION_LABELS = {
    "refresh": "Refresh parameters",
    "set_value": "Set value",
    "reboot": "Reboot",
    "factory_reset": "Factory reset",
    "push_firmware": "Push firmware",
    "add_object": "Add object",
    "delete_object": "Delete object",
    "connection_request": "Connection request",
}


def _device_url(device: Device, anchor: str = "") -> str:
    return reverse("devices:device", args=[device.pk]) + (f"#{anchor}" if anchor else "")


def _actable_device(request, pk) -> Device:
    """The device, if `request.user` may see it (else 404) and act on it (else 403)."""
    device = get_for_user_or_404(Device.objects.all(), request.user, "view", pk=pk)
    if not (bulk.may_act(request.user) and bulk.actable(request.user).filter(pk=pk).exists()):
        raise PermissionDenied
    return device


def _form_errors(request, label: str, form) -> None:
    for field, errors in form.errors.items():
        name = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {name + ': ' if name else ''}{error}")


@login_required
@require_POST
def device_action(request, pk, action):
    if action not in ACTION_LABELS:
        raise Http404(f"No action {action!r}.")
    device = _actable_device(request, pk)
    label = ACTION_LABELS[action]
    user = request.user
    back = HttpResponseRedirect(_device_url(device, "tasks"))
    if action == "factory_reset" and request.POST.get("confirm") != "yes":
        return HttpResponseRedirect(reverse("devices:factory_reset", args=[device.pk]))
    try:
        if action == "refresh":
            form = RefreshForm(request.POST)
            if not form.is_valid():
                _form_errors(request, label, form)
                return back
            task = task_services.refresh_parameters(
                device, actor=user, path=form.cleaned_data["path"] or None
            )
        elif action == "set_value":
            form = SetValueForm(request.POST)
            if not form.is_valid():
                _form_errors(request, label, form)
                return HttpResponseRedirect(_device_url(device, "actions"))
            task = task_services.set_parameter_values(
                device, {form.cleaned_data["name"]: form.cleaned_data["typed"]}, actor=user
            )
        elif action == "reboot":
            task = task_services.reboot(device, actor=user)
        elif action == "factory_reset":
            task = task_services.factory_reset(device, actor=user)
        elif action in ("add_object", "delete_object"):
            prefix = "add" if action == "add_object" else "delete"
            form = ObjectForm(request.POST, prefix=prefix)
            if not form.is_valid():
                _form_errors(request, label, form)
                return HttpResponseRedirect(_device_url(device, "actions"))
            service = (
                task_services.add_object if action == "add_object" else task_services.delete_object
            )
            task = service(device, form.cleaned_data["object_name"], actor=user)
        elif action == "push_firmware":
            form = PushFirmwareForm(request.POST, packages=approved_packages(user))
            if not form.is_valid():
                _form_errors(request, label, form)
                return HttpResponseRedirect(_device_url(device, "actions"))
            task = task_services.push_firmware(device, form.cleaned_data["package"], actor=user)
        else:  # connection_request
            connection_services.request_connection(device, actor=user)
            messages.success(request, f"Connection request to {device} sent.")
            return back
    except ValueError as exc:  # TaskError and the services' other refusals
        messages.error(request, f"{label} refused: {exc}")
        return back
    messages.success(
        request, f"{label} queued as task #{task.pk}; the box runs it in its next session."
    )
    return back


@login_required
def factory_reset_confirm(request, pk):
    device = _actable_device(request, pk)
    return render(
        request,
        "acs/factory_reset.html",
        {"title": f"Factory reset {device}", "object": device, "cancel_url": _device_url(device)},
    )


@login_required
@require_POST
def task_action(request, pk, task_pk, op):
    if op not in ("cancel", "retry"):
        raise Http404(f"No task operation {op!r}.")
    device = _actable_device(request, pk)
    task = get_for_user_or_404(
        Task.objects.filter(device=device), request.user, "change", pk=task_pk
    )
    try:
        if op == "cancel":
            task_services.cancel_task(task, actor=request.user)
            messages.success(request, f"Task #{task.pk} ({task.rpc}) cancelled.")
        else:
            new = task_services.retry_task(task, actor=request.user)
            messages.success(request, f"Task #{task.pk} ({task.rpc}) queued again as #{new.pk}.")
    except ValueError as exc:
        messages.error(request, f"Task #{task.pk}: {exc}")
    return HttpResponseRedirect(_device_url(device, "tasks"))


@login_required
def live_json(request, pk):
    """The page's polling fallback: the same snapshot the websocket sends."""
    state = live.snapshot(pk, request.user)
    if state is None:
        raise Http404("No device matches the given query.")
    return JsonResponse({"type": "snapshot", **state})
