"""restrict() for every role, and another tenant's object as a 404 in HTML, REST and the admin."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from fus.models import DeviceClass, FirmwarePackage, Manufacturer, SigningCertificate
from portal.models import AuditEvent
from tests.factories import make_package

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(tenants):
    return {
        **tenants,
        "pkg_a": make_package(tenants["dc_a"], "1.0"),
        "pkg_b": make_package(tenants["dc_b"], "1.0"),
    }


VISIBLE = {
    # role: (manufacturers, device classes, packages) visible with "view"
    "admin": (2, 2, 2),
    "noc": (2, 2, 2),
    "helpdesk": (2, 2, 2),
    "supplier_a": (1, 1, 1),
    "supplier_b": (1, 1, 1),
}


@pytest.mark.parametrize("role", VISIBLE)
def test_view_scope_per_role(catalogue, role):
    user = catalogue[role]
    counts = tuple(
        m.objects.restrict(user, "view").count()
        for m in (Manufacturer, DeviceClass, FirmwarePackage)
    )
    assert counts == VISIBLE[role]


def test_supplier_sees_only_its_own_rows(catalogue):
    assert list(FirmwarePackage.objects.restrict(catalogue["supplier_a"])) == [catalogue["pkg_a"]]
    assert list(Manufacturer.objects.restrict(catalogue["supplier_b"])) == [catalogue["b"]]


@pytest.mark.parametrize(
    ("role", "action", "expected"),
    [
        ("noc", "approve", 2),
        ("admin", "approve", 2),
        ("helpdesk", "approve", 0),
        ("supplier_a", "approve", 0),
        ("helpdesk", "change", 0),
        ("supplier_a", "change", 1),
        ("supplier_a", "delete", 1),
        ("noc", "delete", 2),
    ],
)
def test_actions_per_role(catalogue, role, action, expected):
    assert FirmwarePackage.objects.restrict(catalogue[role], action).count() == expected


def test_nobody_else_sees_the_audit_log(catalogue):
    assert AuditEvent.objects.restrict(catalogue["noc"]).exists()
    for role in ("helpdesk", "supplier_a"):
        assert not AuditEvent.objects.restrict(catalogue[role]).exists()


def test_anonymous_and_inactive_see_nothing(catalogue):
    from django.contrib.auth.models import AnonymousUser

    assert not FirmwarePackage.objects.restrict(AnonymousUser()).exists()
    noc = catalogue["noc"]
    noc.is_active = False
    assert not FirmwarePackage.objects.restrict(noc).exists()


# --- HTML --------------------------------------------------------------------------------------


def _pages(c, own: str, other: str):
    pkg, dc, m = (c[f"pkg_{other}"], c[f"dc_{other}"], c[other])
    return [
        reverse("fus:firmware", args=[pkg.pk]),
        reverse("fus:firmware_edit", args=[pkg.pk]),
        reverse("fus:firmware_delete", args=[pkg.pk]),
        reverse("fus:deviceclass", args=[dc.pk]),
        reverse("fus:deviceclass_edit", args=[dc.pk]),
        reverse("fus:manufacturer", args=[m.pk]),
    ]


def test_html_cross_tenant_is_404(client, catalogue):
    client.force_login(catalogue["supplier_a"])
    for url in _pages(catalogue, "a", "b"):
        assert client.get(url).status_code == 404, url
    own = client.get(reverse("fus:firmware", args=[catalogue["pkg_a"].pk]))
    assert own.status_code == 200
    listing = client.get(reverse("fus:firmware_list")).content.decode()
    assert (
        catalogue["pkg_a"].package_name in listing
        and catalogue["pkg_b"].package_name not in listing
    )
    # POSTs too: approving or deleting another tenant's package
    for name in ("fus:firmware_approve", "fus:firmware_delete"):
        assert client.post(reverse(name, args=[catalogue["pkg_b"].pk])).status_code == 404
    assert FirmwarePackage.objects.count() == 2


def test_supplier_portal_lists_own_rows_only(client, catalogue):
    client.force_login(catalogue["supplier_b"])
    page = client.get(reverse("supplier:home")).content.decode()
    assert "Beta" in page and "3C62F0-B-STB" in page
    assert "Alpha" not in page and "00D09E" not in page
    assert client.get(reverse("home")).url == reverse("supplier:home")


def test_helpdesk_reads_but_cannot_change(client, catalogue):
    client.force_login(catalogue["helpdesk"])
    assert client.get(reverse("fus:firmware", args=[catalogue["pkg_b"].pk])).status_code == 200
    assert client.get(reverse("fus:firmware_add")).status_code == 403
    assert client.get(reverse("fus:firmware_edit", args=[catalogue["pkg_b"].pk])).status_code == 404
    assert client.get(reverse("audit_list")).status_code == 403


def test_anonymous_is_sent_to_login(client, catalogue):
    response = client.get(reverse("fus:firmware_list"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_bulk_action_touches_only_permitted_rows(client, catalogue):
    client.force_login(catalogue["noc"])
    url = reverse("fus:firmware_list")
    client.post(url, {"action": "approve", "pk": [catalogue["pkg_a"].pk, catalogue["pkg_b"].pk]})
    assert set(FirmwarePackage.objects.values_list("status", flat=True)) == {"approved"}
    client.force_login(catalogue["supplier_a"])
    client.post(url, {"action": "delete", "pk": [catalogue["pkg_b"].pk]})
    assert FirmwarePackage.objects.filter(pk=catalogue["pkg_b"].pk).exists()


# --- REST --------------------------------------------------------------------------------------


def test_rest_cross_tenant_is_404(catalogue):
    api = APIClient()
    api.force_authenticate(catalogue["supplier_a"])
    other = catalogue["pkg_b"].pk
    assert api.get(f"/api/firmware/{other}/").status_code == 404
    assert (
        api.patch(f"/api/firmware/{other}/", {"description": "x"}, format="json").status_code == 404
    )
    assert api.delete(f"/api/firmware/{other}/").status_code == 404
    assert api.get(f"/api/device-classes/{catalogue['dc_b'].pk}/").status_code == 404
    assert api.get(f"/api/manufacturers/{catalogue['b'].pk}/").status_code == 404
    ids = [row["id"] for row in api.get("/api/firmware/").json()["results"]]
    assert ids == [catalogue["pkg_a"].pk]
    # no approve permission at all: 403 on its own package
    assert api.post(f"/api/firmware/{catalogue['pkg_a'].pk}/approve/").status_code == 403


def test_rest_requires_authentication(catalogue):
    assert APIClient().get("/api/firmware/").status_code in (401, 403)


# --- admin -------------------------------------------------------------------------------------


def test_admin_cross_tenant_is_404(client, catalogue):
    supplier = catalogue["supplier_a"]
    supplier.is_staff = True
    supplier.save()
    client.force_login(supplier)
    own, other = catalogue["pkg_a"].pk, catalogue["pkg_b"].pk
    assert client.get(f"/admin/fus/firmwarepackage/{own}/change/").status_code == 200
    assert client.get(f"/admin/fus/firmwarepackage/{other}/change/").status_code == 404
    assert client.get(f"/admin/fus/manufacturer/{catalogue['b'].pk}/change/").status_code == 404
    listing = client.get("/admin/fus/firmwarepackage/").content.decode()
    assert (
        catalogue["pkg_a"].package_name in listing
        and catalogue["pkg_b"].package_name not in listing
    )


def test_admin_for_noc_sees_all_and_approves_through_the_service(client, catalogue):
    client.force_login(catalogue["noc"])
    response = client.post(
        "/admin/fus/firmwarepackage/",
        {"action": "approve_packages", "_selected_action": [catalogue["pkg_b"].pk]},
    )
    assert response.status_code == 302
    catalogue["pkg_b"].refresh_from_db()
    assert catalogue["pkg_b"].status == "approved"
    assert AuditEvent.objects.filter(kind="firmware_approved", actor=catalogue["noc"]).exists()


def test_certificates_are_tenant_scoped(catalogue):
    from fus.services.catalogue import add_signing_certificate
    from tests.fus import pki

    add_signing_certificate(catalogue["b"], name="b", pem=pki.make_root("B").cert_pem())
    assert not SigningCertificate.objects.restrict(catalogue["supplier_a"]).exists()
    assert SigningCertificate.objects.restrict(catalogue["supplier_b"]).count() == 1


@pytest.mark.parametrize("url_name", ["fus:deviceclass_list", "fus:firmware_list"])
def test_filter_choices_list_only_own_manufacturers(client, catalogue, url_name):
    """Every model-choice filter is restricted (RestrictedFilterSet), not only hand-picked ones."""
    client.force_login(catalogue["supplier_a"])
    page = client.get(reverse(url_name)).content.decode()
    assert "Alpha" in page and "Beta" not in page and "3C62F0" not in page


def test_rest_related_fields_offer_only_own_rows(catalogue):
    api = APIClient()
    api.force_authenticate(catalogue["supplier_a"])
    foreign = api.post(
        "/api/device-classes/",
        {"manufacturer": catalogue["b"].pk, "oui": "3C62F0", "product_class": "X"},
        format="json",
    )
    assert foreign.status_code == 400 and "manufacturer" in foreign.json()
    assert not DeviceClass.objects.filter(product_class="X").exists()
