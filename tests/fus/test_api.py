"""The catalogue REST API: token auth, uploads, lifecycle actions, filters, errors, schema."""

import hashlib
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from fus.models import FirmwarePackage, Manufacturer
from tests.factories import DeviceClassFactory, make_package
from tests.fus import pki

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_client(tenants):
    def make(user):
        out = StringIO()
        call_command("drf_create_token", user.username, stdout=out)
        token = out.getvalue().split()[2]
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return api

    return make


def test_drf_create_token_works_and_authenticates(tenants, token_client):
    api = token_client(tenants["noc"])
    assert api.get("/api/firmware/").status_code == 200
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token nope")
    assert bad.get("/api/firmware/").status_code == 401


def test_supplier_uploads_signed_firmware_over_rest(tenants, token_client, _media_root):
    root = pki.make_root("Alpha Root")
    leaf = pki.make_leaf(root, "Alpha Signing")
    from fus.services.catalogue import add_signing_certificate

    add_signing_certificate(tenants["a"], name="root", pem=root.cert_pem())
    data = b"\x7fELF-firmware" * 2000
    api = token_client(tenants["supplier_a"])
    response = api.post(
        "/api/firmware/",
        {
            "device_classes": [tenants["dc_a"].pk],
            "software_version": "3.1.0",
            "package_name": "alpha-3.1.0",
            "signed_packaging": "true",
            "update_priority": 2,
            "files": [SimpleUploadedFile("alpha.img", data)],
            "signatures": [
                SimpleUploadedFile("alpha.img.p7s", pki.sign_detached(data, leaf.key, leaf.cert))
            ],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "validated" and body["package_size"] == len(data)
    assert body["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["files"][0]["signed"] is True and "Alpha Signing" in body["files"][0]["signer"]


def test_rest_errors_name_the_problem_and_store_nothing(tenants, token_client):
    make_package(tenants["dc_a"], "1.0")
    api = token_client(tenants["supplier_a"])
    response = api.post(
        "/api/firmware/",
        {
            "device_classes": [tenants["dc_a"].pk],
            "software_version": "1.0",
            "package_name": "x",
            "files": [SimpleUploadedFile("x.img", b"x")],
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert "SoftwareVersion '1.0' already exists for device class 00D09E-A-STB" in str(
        response.json()
    )
    foreign = api.post(
        "/api/firmware/",
        {"device_classes": [tenants["dc_b"].pk], "software_version": "2", "package_name": "y"},
        format="json",
    )
    assert foreign.status_code == 400 and "device_classes" in foreign.json()
    bad_oui = token_client(tenants["noc"]).post(
        "/api/manufacturers/", {"name": "Gamma", "ouis": ["00D0ZZ"]}, format="json"
    )
    assert bad_oui.status_code == 400 and "00D0ZZ" in str(bad_oui.json())
    assert not Manufacturer.objects.filter(name="Gamma").exists()
    assert FirmwarePackage.objects.count() == 1


def test_draft_then_file_then_validate_then_approve(tenants, token_client):
    supplier = token_client(tenants["supplier_a"])
    created = supplier.post(
        "/api/firmware/",
        {
            "device_classes": [tenants["dc_a"].pk],
            "software_version": "5.0",
            "package_name": "alpha-5",
        },
        format="json",
    )
    assert created.status_code == 201 and created.json()["status"] == "draft"
    pk = created.json()["id"]
    added = supplier.post(
        f"/api/firmware/{pk}/files/",
        {"file": SimpleUploadedFile("a.bin", b"a" * 10), "module_type": "kernel"},
        format="multipart",
    )
    assert added.status_code == 201 and added.json()["files"][0]["module_type"] == "kernel"
    assert supplier.post(f"/api/firmware/{pk}/validate/").json()["status"] == "validated"
    noc = token_client(tenants["noc"])
    approved = noc.post(f"/api/firmware/{pk}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert noc.post(f"/api/firmware/{pk}/approve/").status_code == 400
    assert (
        supplier.patch(f"/api/firmware/{pk}/", {"description": "x"}, format="json").status_code
        == 400
    )
    retired = noc.post(f"/api/firmware/{pk}/retire/", {"reason": "recall"}, format="json")
    assert retired.json()["status"] == "retired"


def test_filters_are_shared_with_the_ui(tenants, token_client):
    make_package(tenants["dc_a"], "1.0")
    second = make_package(tenants["dc_b"], "2.0")
    api = token_client(tenants["noc"])
    assert [r["id"] for r in api.get("/api/firmware/?software_version=2.0").json()["results"]] == [
        second.pk
    ]
    assert api.get(f"/api/firmware/?manufacturer={tenants['b'].pk}").json()["count"] == 1
    assert api.get("/api/manufacturers/?oui=00-d0-9e").json()["results"][0]["name"] == "Alpha"
    assert api.get("/api/device-classes/?oui=3C62F0").json()["count"] == 1


def test_list_query_count_does_not_grow_with_rows(tenants, token_client):
    api = token_client(tenants["noc"])
    make_package(tenants["dc_a"], "1.0")
    with CaptureQueriesContext(connection) as few:
        api.get("/api/firmware/")
    for i in range(5):
        make_package(DeviceClassFactory(manufacturer=tenants["a"]), f"2.{i}")
    with CaptureQueriesContext(connection) as many:
        assert api.get("/api/firmware/").json()["count"] == 6
    assert len(many) == len(few)


def test_openapi_schema_and_docs(tenants, client):
    client.force_login(tenants["noc"])
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert (
        "/api/firmware/{id}/approve/" in text
        and "software_version" in text
        and "signed_packaging" in text
    )
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn" not in docs.lower()
