"""The audit log: logins, operational acts, the automatic change log, and its page."""

import pytest
from django.urls import reverse

from fus.models import DeviceClass
from portal.audit import acting_as, history_for
from portal.choices import AuditKind
from portal.models import AuditEvent
from tests.factories import make_package

pytestmark = pytest.mark.django_db


def test_login_logout_and_failed_login_are_audited(client, tenants):
    assert client.post(reverse("login"), {"username": "noc", "password": "pw"}).status_code == 302
    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": "noc", "password": "wrong-secret"})
    kinds = list(AuditEvent.objects.order_by("pk").values_list("kind", flat=True))
    assert kinds[-3:] == [AuditKind.LOGIN, AuditKind.LOGOUT, AuditKind.LOGIN_FAILED]
    failed = AuditEvent.objects.get(kind=AuditKind.LOGIN_FAILED)
    assert failed.ip_address == "127.0.0.1" and failed.details == {"username": "noc"}
    assert "wrong-secret" not in str(failed.details) + failed.message


def test_change_log_records_field_diffs_and_the_actor(client, tenants):
    dc = tenants["dc_a"]
    client.force_login(tenants["noc"])
    response = client.post(
        reverse("fus:deviceclass_edit", args=[dc.pk]),
        {
            "manufacturer": tenants["a"].pk,
            "oui": "00d09e",
            "product_class": dc.product_class,
            "description": "UHD box",
            "hardware_versions": "1.0, 2.0",
        },
    )
    assert response.status_code == 302
    event = history_for(dc).filter(kind=AuditKind.OBJECT_UPDATED).get()
    assert event.actor == tenants["noc"] and event.actor_name == "noc"
    assert event.changes["description"] == ["", "UHD box"]
    assert event.changes["hardware_versions"] == [["1.0"], ["1.0", "2.0"]]
    assert "oui" not in event.changes  # normalised to the same value: no change recorded


def test_deletions_keep_a_snapshot(tenants):
    dc = DeviceClass.objects.create(manufacturer=tenants["a"], oui="00D09E", product_class="GONE")
    with acting_as(user=tenants["admin"]):
        dc.delete()
    event = AuditEvent.objects.get(kind=AuditKind.OBJECT_DELETED, object_repr="00D09E-GONE")
    assert event.changes["product_class"] == ["GONE", None] and event.actor == tenants["admin"]


def test_audit_page_filters_and_is_for_admin_and_noc_only(client, tenants):
    make_package(tenants["dc_a"], "1.0", actor=tenants["supplier_a"])
    client.force_login(tenants["noc"])
    page = client.get(reverse("audit_list"), {"kind": AuditKind.FIRMWARE_UPLOADED}).content.decode()
    assert ">Firmware uploaded</td>" in page and "supplier-a" in page
    assert ">Firmware validated</td>" not in page  # written too, but filtered out
    for role in ("helpdesk", "supplier_a"):
        client.force_login(tenants[role])
        assert client.get(reverse("audit_list")).status_code == 403


def test_object_pages_show_their_history_to_noc_only(client, tenants):
    package = make_package(tenants["dc_a"], "1.0", actor=tenants["supplier_a"])
    client.force_login(tenants["noc"])
    assert "Change log" in client.get(package.get_absolute_url()).content.decode()
    client.force_login(tenants["supplier_a"])
    assert "Change log" not in client.get(package.get_absolute_url()).content.decode()


def test_service_changes_are_attributed_to_the_acting_user(tenants):
    with acting_as(user=tenants["admin"]):  # e.g. a command run by the admin on a supplier's behalf
        package = make_package(tenants["dc_a"], "1.0", actor=tenants["supplier_a"])
    created = history_for(package).get(kind=AuditKind.OBJECT_CREATED)
    assert created.actor == tenants["supplier_a"]
    assert (
        "validation_report" not in history_for(package).get(kind=AuditKind.OBJECT_UPDATED).changes
    )
