"""Pages of the configurator: profiles (/profiles/), the compliance dashboard and each gateway's
home network with its dry run (/home-network/). Adapters: restrict() for every query, one service
call per action."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from acs.homenet import live, presenters, services
from acs.homenet.choices import ComplianceState
from acs.homenet.forms import ProfileForm
from acs.homenet.models import Compliance, DeviceVariable, Profile
from acs.models import Device
from portal.permissions import can, get_for_user_or_404


def _need(user, model, action):
    if not can(user, model, action):
        raise PermissionDenied


@login_required
def profile_list(request):
    _need(request.user, Profile, "view")
    profiles = Profile.objects.restrict(request.user, "view").prefetch_related("device_classes")
    return render(
        request,
        "homenet/profiles.html",
        {"profiles": profiles, "can_add": can(request.user, Profile, "add"), "title": "Profiles"},
    )


@login_required
def profile_detail(request, pk):
    profile = get_for_user_or_404(Profile, request.user, "view", pk=pk)
    return render(
        request,
        "homenet/profile.html",
        {
            "profile": profile,
            "can_change": can(request.user, Profile, "change"),
            "title": profile.name,
        },
    )


@login_required
def profile_edit(request, pk=None):
    if pk is None:
        _need(request.user, Profile, "add")
        profile = Profile()
    else:
        profile = get_for_user_or_404(Profile, request.user, "change", pk=pk)
    form = ProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        obj = form.save(commit=False)
        try:
            services.save_profile(
                obj, actor=request.user, device_classes=form.cleaned_data["device_classes"]
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, f"Profile {obj.name} saved.")
            return redirect("homenet:profile", obj.pk)
    return render(
        request,
        "homenet/profile_form.html",
        {"form": form, "profile": profile, "title": "Edit profile" if pk else "New profile"},
    )


@login_required
def dashboard(request):
    _need(request.user, Compliance, "view")
    rows = Compliance.objects.restrict(request.user, "view").select_related("device")
    counts = {row["state"]: row["n"] for row in rows.values("state").annotate(n=Count("pk"))}
    state = request.GET.get("state", "")
    if state:
        rows = rows.filter(state=state)
    return render(
        request,
        "homenet/dashboard.html",
        {
            "counts": [(v, label, counts.get(v, 0)) for v, label in ComplianceState.choices],
            "rows": [
                live.compliance_row(c) for c in rows.order_by("-evaluated", "device_id")[:500]
            ],
            "state": state,
            "title": "Home-network compliance",
        },
    )


@login_required
def dashboard_live(request):
    """The dashboard's polling fallback: what the websocket would send (counts, rows)."""
    snapshot = live.dashboard_snapshot(request.user, state=request.GET.get("state", ""))
    if snapshot is None:
        raise PermissionDenied
    return JsonResponse({"type": "update", **snapshot})


@login_required
def device_live(request, pk):
    snapshot = live.device_snapshot(pk, request.user)
    if snapshot is None:
        raise Http404
    return JsonResponse({"type": "snapshot", **snapshot})


@login_required
def device(request, pk):
    gateway = get_for_user_or_404(Device, request.user, "view", pk=pk)
    _need(request.user, Compliance, "view")
    plan, names = services.dry_run(gateway)
    compliance = Compliance.objects.filter(device=gateway).first()
    return render(
        request,
        "homenet/device.html",
        {
            "device": gateway,
            "net": presenters.home_network(gateway, services.tree_of(gateway), request.user),
            "plan": services.plan_to_json(plan),
            "profiles": names,
            "compliance": compliance,
            "can_view_variables": can(request.user, DeviceVariable, "view"),
            "can_apply": request.user.has_perm("acs.add_task")
            and Device.objects.restrict(request.user, "change").filter(pk=gateway.pk).exists(),
            "title": f"Home network of {gateway}",
        },
    )


@login_required
@require_POST
def apply(request, pk):
    gateway = get_for_user_or_404(Device, request.user, "change", pk=pk)
    if not request.user.has_perm("acs.add_task"):
        raise PermissionDenied
    compliance = services.apply_profiles(gateway, actor=request.user)
    messages.success(request, f"Profiles applied: {compliance.get_state_display()}.")
    return redirect("homenet:device", gateway.pk)


def may_edit_variables(user, device: Device) -> bool:
    """NOC: set and delete a device's variables (the device must be theirs to change)."""
    return all(can(user, DeviceVariable, a) for a in ("add", "change", "delete")) and (
        Device.objects.restrict(user, "change").filter(pk=device.pk).exists()
    )


def _variable_changes(post, current: dict[str, str]) -> dict[str, str | None]:
    """The form's edits: ``value:<name>`` fields (an empty value on an unset row changes nothing),
    ``delete:<name>`` boxes, and the ``new_name``/``new_value`` row."""
    changes: dict[str, str | None] = {}
    for key, value in post.items():
        if not key.startswith("value:"):
            continue
        name = key[len("value:") :]
        if post.get(f"delete:{name}"):
            if name in current:
                changes[name] = None
        elif value != current.get(name, ""):
            changes[name] = value
    new_name = post.get("new_name", "").strip()
    if new_name:
        changes[new_name] = post.get("new_value", "")
    elif post.get("new_value"):
        changes[""] = post.get("new_value")  # refused: a value needs a name
    return changes


@login_required
def variables(request, pk):
    """A device's variables for profile templates: view (NOC), set and delete, each refusal
    naming the variable; the dry run below reflects what is stored."""
    device = get_for_user_or_404(Device, request.user, "view", pk=pk)
    _need(request.user, DeviceVariable, "view")
    editable = may_edit_variables(request.user, device)
    current = services.custom_variables(device)
    errors: dict[str, list[str]] = {}
    posted: dict[str, str | None] = {}
    status = 200
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        posted = _variable_changes(request.POST, current)
        try:
            services.set_variables(device, posted, actor=request.user)
        except ValidationError as exc:
            errors = exc.message_dict
            status = 400
        else:
            changed = ", ".join(sorted(posted)) or "nothing"
            messages.success(request, f"Variables saved ({changed}).")
            return redirect("homenet:variables", device.pk)
    uses = services.variable_uses(device)
    builtin = services.variables_of(device)
    rows = []
    for name in sorted((set(current) | set(uses)) - set(services.BUILTIN_VARIABLES)):
        value = posted.get(name)  # what was typed, when refused
        rows.append(
            {
                "name": name,
                "value": value if value is not None else current.get(name, ""),
                "set": name in current,
                "uses": uses.get(name, []),
                "errors": errors.get(name, []),
            }
        )
    shown = {r["name"] for r in rows}
    new_errors = [f"{n}: {e}" if n else e for n, es in errors.items() if n not in shown for e in es]
    plan, names = services.dry_run(device)
    return render(
        request,
        "homenet/variables.html",
        {
            "device": device,
            "builtin": [(n, builtin.get(n, "")) for n in services.BUILTIN_VARIABLES],
            "rows": rows,
            "new_errors": new_errors,
            "new_name": request.POST.get("new_name", "") if errors else "",
            "new_value": request.POST.get("new_value", "") if errors else "",
            "editable": editable,
            "plan": services.plan_to_json(plan),
            "profiles": names,
            "title": f"Variables of {device}",
        },
        status=status,
    )
