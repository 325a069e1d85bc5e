"""POST /fus/report (form, JSON, XML), its refusals and limits, and the report pages for the NOC
and the supplier portal."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fus.delivery.reports import BadReport, parse_report
from fus.models import UpdateReport, UpdateResult
from fus.services.reports import delivery_statistics
from tests.fus.delivery_helpers import approved_package

GOOD = {
    "ManufacturerOUI": "00d09e",
    "ProductClass": "A-STB",
    "HardwareVersion": "1.0",
    "SerialNumber": "SN1000",
    "MACAddress": "00-D0-9E-00-00-01",
    "FromSoftwareVersion": "1.0.0",
    "ToSoftwareVersion": "2.0.0",
    "ResultCode": "0",
    "ResultText": "Updated.",
    "StartTime": "2026-11-20T10:00:00Z",
    "CompleteTime": "2026-11-20T10:05:00+01:00",
}

URL = "/fus/report"


def xml_body(fields: dict[str, str]) -> bytes:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    return f'<UpdateReport xmlns="urn:rms-fus-portal:fus-report:1">{inner}</UpdateReport>'.encode()


@pytest.fixture
def package(tenants):
    return approved_package(tenants["dc_a"], "2.0.0")


def _check_stored(report: UpdateReport, tenants, package):
    assert report.manufacturer == tenants["a"]
    assert report.device_class == tenants["dc_a"]
    assert report.package == package
    assert report.oui == "00D09E"
    assert report.mac_address == "00:d0:9e:00:00:01"
    assert (report.from_version, report.to_version) == ("1.0.0", "2.0.0")
    assert report.result == UpdateResult.SUCCESS and report.result_code == 0
    assert report.completed_at.isoformat() == "2026-11-20T09:05:00+00:00"
    assert report.source_ip == "127.0.0.1"


def test_form_encoded_report(client, tenants, package):
    response = client.post(URL, GOOD)
    assert response.status_code == 201, response.content
    report = UpdateReport.objects.get(pk=response.json()["id"])
    _check_stored(report, tenants, package)


def test_json_report(client, tenants, package):
    body = {**GOOD, "ResultCode": 0}
    response = client.post(URL, json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    _check_stored(UpdateReport.objects.get(), tenants, package)


def test_xml_report(client, tenants, package):
    response = client.post(URL, xml_body(GOOD), content_type="application/xml")
    assert response.status_code == 201, response.content
    _check_stored(UpdateReport.objects.get(), tenants, package)


def test_failure_report_counts_in_statistics(client, tenants, package):
    client.post(URL, {**GOOD, "ResultCode": "9010", "ResultText": "Download failed"})
    client.post(URL, {**GOOD, "SerialNumber": "SN1001"})
    stats = delivery_statistics(package)
    assert (stats.reports_success, stats.reports_failure) == (1, 1)
    assert UpdateReport.objects.get(result_code=9010).result == UpdateResult.FAILURE


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"ManufacturerOUI": "ZZZZZZ"}, "ManufacturerOUI", "6 hexadecimal"),
        ({"ManufacturerOUI": "112233"}, "ManufacturerOUI", "not the OUI of a known manufacturer"),
        ({"SerialNumber": ""}, "SerialNumber", "required"),
        ({"SerialNumber": "S" * 65}, "SerialNumber", "At most 64"),
        ({"ResultCode": "ok"}, "ResultCode", "whole number"),
        ({"ResultCode": "-1"}, "ResultCode", "out of range"),
        ({"MACAddress": "nope"}, "MACAddress", "not a MAC"),
        ({"StartTime": "yesterday"}, "StartTime", "ISO 8601"),
        ({"ToSoftwareVersion": "2.0\x01"}, "ToSoftwareVersion", "Control characters"),
        ({"Colour": "blue"}, "Colour", "Unknown field"),
    ],
)
def test_bad_reports_name_the_field_and_store_nothing(client, package, change, field, words):
    response = client.post(URL, {**GOOD, **change})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors and words in errors[field], errors
    assert not UpdateReport.objects.exists()


def test_xml_with_entities_is_refused(client, package):
    body = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + xml_body({**GOOD, "ResultText": "&x;"})
    )
    response = client.post(URL, body, content_type="application/xml")
    assert response.status_code == 400 and "DOCTYPE" in response.json()["errors"]["body"]
    assert not UpdateReport.objects.exists()


def test_other_content_types_are_refused(client, package):
    response = client.post(URL, b"hello", content_type="text/plain")
    assert response.status_code == 400 and "Content-Type" in response.json()["errors"]


def test_oversized_reports_are_413(client, package, settings):
    settings.FUS_REPORT_MAX_BODY = 1024
    response = client.post(URL, {**GOOD, "ResultText": "x" * 2000})
    assert response.status_code == 413
    assert not UpdateReport.objects.exists()


def test_rate_limit_per_address(client, package, settings):
    from django.core.cache import cache

    cache.clear()
    settings.FUS_REPORT_RATE = 3
    codes = [client.post(URL, {**GOOD, "SerialNumber": f"SN{i}"}).status_code for i in range(5)]
    assert codes == [201, 201, 201, 429, 429]
    assert UpdateReport.objects.count() == 3
    other = client.post(URL, {**GOOD, "SerialNumber": "SNx"}, REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 201
    cache.clear()


def test_only_post(client, db):
    assert client.get(URL).status_code == 405


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content_type=st.sampled_from(
        ["application/json", "application/xml", "application/x-www-form-urlencoded", "text/xml"]
    ),
    body=st.binary(max_size=400),
)
def test_fuzzed_bodies_are_parsed_or_refused_cleanly(content_type, body):
    try:
        parse_report(content_type, body)
    except BadReport as exc:
        assert exc.errors


# --- pages ----------------------------------------------------------------------------------------


@pytest.fixture
def reports(client, tenants, package):
    client.post(URL, GOOD)
    client.post(
        URL, {**GOOD, "SerialNumber": "SN2000", "ResultCode": "9018", "ResultText": "Corrupt"}
    )
    client.post(
        URL,
        {
            **GOOD,
            "ManufacturerOUI": "3C62F0",
            "ProductClass": "B-STB",
            "SerialNumber": "B-1",
            "MACAddress": "",
        },
    )
    return {r.serial_number: r for r in UpdateReport.objects.all()}


def test_noc_sees_every_report_and_filters(client, tenants, reports):
    client.force_login(tenants["noc"])
    page = client.get(reverse("fus:report_list")).content.decode()
    for serial in ("SN1000", "SN2000", "B-1"):
        assert serial in page
    page = client.get(reverse("fus:report_list"), {"result": "failure"}).content.decode()
    assert "SN2000" in page and "SN1000" not in page
    page = client.get(reverse("fus:report_list"), {"q": "B-1"}).content.decode()
    assert "B-1" in page and "SN2000" not in page
    csv = client.get(reverse("fus:report_list"), {"export": "csv"})
    assert b"00D09E-SN2000" in b"".join(csv.streaming_content)
    detail = client.get(reports["SN2000"].get_absolute_url())
    assert detail.status_code == 200 and b"Corrupt" in detail.content


def test_supplier_sees_only_its_own_reports(client, tenants, reports):
    client.force_login(tenants["supplier_b"])
    page = client.get(reverse("fus:report_list")).content.decode()
    assert "B-1" in page and "SN1000" not in page and "SN2000" not in page
    assert client.get(reports["B-1"].get_absolute_url()).status_code == 200
    assert client.get(reports["SN1000"].get_absolute_url()).status_code == 404
    # the manufacturer filter offers only its own manufacturer
    assert "Alpha" not in page


def test_anonymous_users_are_sent_to_login(client, reports):
    response = client.get(reverse("fus:report_list"))
    assert response.status_code == 302 and "/login/" in response["Location"]
