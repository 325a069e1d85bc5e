"""Portal-wide pages: home (dashboard), the audit log, the liveness probe."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe
from django_tables2 import RequestConfig

from portal.filtersets import AuditEventFilterSet
from portal.models import AuditEvent
from portal.roles import is_supplier
from portal.tables import AuditEventTable


@require_safe
def healthz(request):
    """Liveness for load balancers and process supervisors: 200 when this web process answers
    through Django's whole stack. It touches no database or broker on purpose (one slow
    dependency must not make every web process look dead); `manage.py check --deploy` and the
    worker ping (`portal.tasks.ping`) cover those."""
    return HttpResponse(b"ok\n", content_type="text/plain; charset=utf-8")


@login_required
def home(request):
    if is_supplier(request.user):
        return redirect("supplier:home")
    from fus.models import DeviceClass, FirmwarePackage, Manufacturer

    packages = FirmwarePackage.objects.restrict(request.user)
    by_status = dict(packages.order_by().values_list("status").annotate(n=Count("pk")))
    return render(
        request,
        "portal/home.html",
        {
            "title": "Overview",
            "counts": {
                "manufacturers": Manufacturer.objects.restrict(request.user).count(),
                "device_classes": DeviceClass.objects.restrict(request.user).count(),
                "packages": packages.count(),
            },
            "by_status": by_status,
            "awaiting_approval": packages.filter(status="validated").select_related("manufacturer")[
                :10
            ],
            "recent": AuditEvent.objects.restrict(request.user).select_related("actor")[:10],
        },
    )


@login_required
def audit_list(request):
    queryset = AuditEvent.objects.restrict(request.user).select_related("actor", "object_type")
    if not request.user.has_perm("portal.view_auditevent"):
        raise PermissionDenied
    filterset = AuditEventFilterSet(request.GET or None, queryset=queryset)
    qs = filterset.qs if filterset.is_bound and filterset.is_valid() else queryset
    table = AuditEventTable(qs)
    RequestConfig(request, paginate={"per_page": 100}).configure(table)
    return render(
        request,
        "portal/audit_list.html",
        {"title": "Audit log", "table": table, "filter_form": filterset.form},
    )
