"""Pages of the configurator: profiles (/profiles/), the compliance dashboard and each gateway's
home network with its dry run (/home-network/). Adapters: restrict() for every query, one service
call per action."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from acs.homenet import presenters, services
from acs.homenet.choices import ComplianceState
from acs.homenet.forms import ProfileForm
from acs.homenet.models import Compliance, Profile
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
            "rows": rows.order_by("-evaluated")[:500],
            "state": state,
            "title": "Home-network compliance",
        },
    )


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
