"""Django admin: the same restrict() scoping as the UI and the API."""

from django.contrib import admin
from django.http import Http404

from portal.models import AuditEvent
from portal.permissions import restrict_queryset


class RestrictedModelAdmin(admin.ModelAdmin):
    """Rows through restrict(); another tenant's object id is a 404, never a redirect or 403."""

    def get_queryset(self, request):
        return restrict_queryset(super().get_queryset(request), request.user, "view")

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No {self.model._meta.verbose_name} with id {object_id!r}.")
        return obj

    def _allowed(self, request, obj, action) -> bool:
        model_ok = request.user.has_perm(f"{self.opts.app_label}.{action}_{self.opts.model_name}")
        if obj is None or not model_ok:
            return model_ok
        qs = restrict_queryset(self.model._default_manager.all(), request.user, action)
        return qs.filter(pk=obj.pk).exists()

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj, "view") or self._allowed(request, obj, "change")

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj, "change")

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj, "delete")


@admin.register(AuditEvent)
class AuditEventAdmin(RestrictedModelAdmin):
    list_display = ("timestamp", "actor_name", "kind", "object_repr", "message", "ip_address")
    list_filter = ("kind", "object_type")
    search_fields = ("object_repr", "message", "actor_name")
    date_hierarchy = "timestamp"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
