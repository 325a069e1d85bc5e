"""`POST /fus/report`: the default ReportingOrders address, where unmanaged boxes report an update
result (docs/qrc.md, "Reports").

One report per request, form-encoded, JSON or XML, at most `FUS_REPORT_MAX_BODY` bytes (413), at
most `FUS_REPORT_RATE` reports per minute per client address (429 with Retry-After; counted in
Django's cache, so per process unless CACHES is shared). Bad input is a 400 whose JSON body names each
bad field; nothing is stored then.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse, QueryDict
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from lxml import etree

from fus.delivery.conf import delivery_settings
from fus.metadata.xmlsafe import hardened_parser
from fus.services.reports import ReportData, record_update_report
from portal.audit import client_ip

REPORT_NS = "urn:rms-fus-portal:fus-report:1"

#: Wire name -> ReportData attribute.
FIELDS = {
    "ManufacturerOUI": "manufacturer_oui",
    "ProductClass": "product_class",
    "HardwareVersion": "hardware_version",
    "SerialNumber": "serial_number",
    "MACAddress": "mac_address",
    "FromSoftwareVersion": "from_version",
    "ToSoftwareVersion": "to_version",
    "ResultCode": "result_code",
    "ResultText": "result_text",
    "StartTime": "started_at",
    "CompleteTime": "completed_at",
}
WIRE_NAME = {attr: wire for wire, attr in FIELDS.items()}


class BadReport(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


def _xml_fields(body: bytes) -> dict[str, str]:
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise BadReport({"body": "DOCTYPE and entity declarations are not allowed."})
    try:
        root = etree.fromstring(body, hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise BadReport({"body": f"Not well-formed XML: {exc}"}) from None
    if etree.QName(root).localname != "UpdateReport":
        raise BadReport({"body": f"Expected an UpdateReport element, got {root.tag!r}."})
    out: dict[str, str] = {}
    for child in root:
        if not isinstance(child.tag, str):
            continue  # comments, processing instructions
        name = etree.QName(child).localname
        if len(child):
            raise BadReport({name: "Expected text, found child elements."})
        out[name] = (child.text or "").strip()
    return out


def _json_fields(body: bytes) -> dict[str, str]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadReport({"body": f"Not JSON: {exc}"}) from None
    if not isinstance(data, dict):
        raise BadReport({"body": "Expected a JSON object."})
    out = {}
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise BadReport(
                {str(name)[:64]: f"Expected a string or an integer, got {value!r:.40}."}
            )
        out[str(name)] = str(value)
    return out


def _time(name: str, text: str) -> datetime | None:
    if not text:
        return None
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        raise BadReport({name: f"{text[:40]!r} is not an ISO 8601 date-time."})
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _form_fields(query) -> dict[str, str]:
    fields = {}
    for name, values in query.lists():
        if len(values) > 1:
            raise BadReport({name[:64]: "Given more than once."})
        fields[name] = values[0]
    return fields


def parse_report(content_type: str, body: bytes, *, form=None) -> ReportData:
    """A ReportData from a request body (or, for multipart/form-data, Django's parsed `form`);
    BadReport naming the bad fields."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "multipart/form-data" and form is not None:
        fields = _form_fields(form)
    elif kind in ("application/xml", "text/xml"):
        fields = _xml_fields(body)
    elif kind == "application/json":
        fields = _json_fields(body)
    elif kind == "application/x-www-form-urlencoded":
        try:
            fields = _form_fields(QueryDict(body, encoding="utf-8"))
        except UnicodeDecodeError:
            raise BadReport({"body": "Not UTF-8."}) from None
    else:
        raise BadReport(
            {
                "Content-Type": f"{kind or 'none'!r} is not accepted: use "
                "application/x-www-form-urlencoded, multipart/form-data, application/json or "
                "application/xml."
            }
        )
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise BadReport({name[:64]: "Unknown field." for name in unknown[:10]})
    code_text = fields.get("ResultCode", "")
    try:
        code = int(code_text)
    except ValueError:
        raise BadReport(
            {"ResultCode": f"{code_text[:20]!r} is not a whole number (0 = success)."}
            if code_text
            else {"ResultCode": "This field is required."}
        ) from None
    return ReportData(
        manufacturer_oui=fields.get("ManufacturerOUI", ""),
        product_class=fields.get("ProductClass", ""),
        serial_number=fields.get("SerialNumber", ""),
        to_version=fields.get("ToSoftwareVersion", ""),
        result_code=code,
        hardware_version=fields.get("HardwareVersion", ""),
        mac_address=fields.get("MACAddress", ""),
        from_version=fields.get("FromSoftwareVersion", ""),
        result_text=fields.get("ResultText", ""),
        started_at=_time("StartTime", fields.get("StartTime", "")),
        completed_at=_time("CompleteTime", fields.get("CompleteTime", "")),
    )


def _rate_limited(ip: str | None, limit: int) -> int:
    """Seconds to wait if `ip` has used up this minute's reports, else 0."""
    now = int(time.time())
    key = f"fus:report-rate:{ip or '-'}:{now // 60}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    return 60 - now % 60 if count > limit else 0


@csrf_exempt
@require_POST
def report_endpoint(request: HttpRequest) -> JsonResponse:
    conf = delivery_settings()
    ip = client_ip(request)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > conf.report_max_body:
        return JsonResponse(
            {"errors": {"body": f"At most {conf.report_max_body} bytes (got {declared})."}},
            status=413,
        )
    wait = _rate_limited(ip, conf.report_rate)
    if wait:
        response = JsonResponse(
            {"errors": {"rate": f"At most {conf.report_rate} reports per minute."}}, status=429
        )
        response["Retry-After"] = str(wait)
        return response
    body = request.body
    if len(body) > conf.report_max_body:
        return JsonResponse(
            {"errors": {"body": f"At most {conf.report_max_body} bytes (got {len(body)})."}},
            status=413,
        )
    form = None
    if request.content_type == "multipart/form-data":
        if request.FILES:
            return JsonResponse({"errors": {"body": "Files are not accepted."}}, status=400)
        form = request.POST
    try:
        data = parse_report(request.content_type or "", body, form=form)
        report = record_update_report(data, source_ip=ip)
    except BadReport as exc:
        return JsonResponse({"errors": exc.errors}, status=400)
    except ValidationError as exc:
        errors = {
            WIRE_NAME.get(field, field): "; ".join(messages)
            for field, messages in exc.message_dict.items()
        }
        return JsonResponse({"errors": errors}, status=400)
    return JsonResponse({"id": report.pk, "result": report.result}, status=201)
