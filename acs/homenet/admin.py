"""Admin for the configurator: device variables (per-device values for profile templates) and a
read-only view of compliance. Profiles are edited on /profiles/ (validated by the engine)."""

from django.contrib import admin

from acs.homenet.models import Compliance, DeviceVariable
from portal.admin import RestrictedModelAdmin


@admin.register(DeviceVariable)
class DeviceVariableAdmin(RestrictedModelAdmin):
    list_display = ("device", "name", "value")
    search_fields = ("device__serial_number", "name")
    raw_id_fields = ("device",)


@admin.register(Compliance)
class ComplianceAdmin(RestrictedModelAdmin):
    list_display = ("device", "state", "evaluated")
    list_filter = ("state",)
    raw_id_fields = ("device",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
