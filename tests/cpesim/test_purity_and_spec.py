"""cpesim imports no framework; its STBService/StorageService parameters match the BBF data models;
its parsers of outside bytes only ever fail with their own errors (hypothesis)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from cpesim.auth import AuthError, DigestServer, parse_challenges, parse_params
from cpesim.download import read_header, url_hints
from cpesim.http import HttpError, _parse_request, parse_head
from cpesim.profiles import schema

SPECS = Path("/work/shared/specs/cwmp")
ROOT = Path(__file__).resolve().parents[2]


def test_importing_cpesim_loads_no_framework():
    code = (
        "import sys, cpesim, cpesim.cli, cpesim.fleet, cpesim.box, cpesim.download\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'rest_framework', 'celery', 'channels', 'spyne', 'portal', 'fus', 'cds'))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == ""


_TYPES = {
    "string": "string",
    "unsignedInt": "unsignedInt",
    "int": "int",
    "boolean": "boolean",
    "dateTime": "dateTime",
    "hexBinary": "hexBinary",
    "unsignedLong": "unsignedLong",
    "long": "long",
    "base64": "base64",
    "list": "string",
}


def _bbf_params(filename: str, prefix: str) -> dict[str, tuple[str, bool]]:
    tree = etree.parse(
        str(SPECS / filename), etree.XMLParser(resolve_entities=False, no_network=True)
    )
    out = {}
    for obj in tree.iter("object"):
        for param in obj.findall("parameter"):
            syntax = param.find("syntax")
            if syntax is None:  # a refinement of a parameter defined earlier
                continue
            kind = "string"
            for child in syntax:
                if not isinstance(child.tag, str):
                    continue
                tag = etree.QName(child).localname
                if tag == "default":
                    continue
                kind = _TYPES.get(tag, "string") if tag != "dataType" else "string"
                break
            out[
                prefix
                + (obj.get("name") or obj.get("base"))
                + (param.get("name") or param.get("base"))
            ] = (
                kind,
                param.get("access") == "readWrite",
            )
    return out


@pytest.mark.skipif(not SPECS.exists(), reason="the BBF data models are not on this machine")
def test_stb_and_storage_parameters_match_tr135_and_tr140():
    spec = _bbf_params("tr-135-1-4-1-cwmp-full.xml", "Device.Services.")
    spec |= _bbf_params("tr-140-1-3-1-cwmp-full.xml", "Device.Services.")
    checked = 0
    for pattern, definition in schema().params.items():
        if not pattern.startswith("Device.Services.") or pattern.count("Device.Services.") != 1:
            continue
        if "X_DVB_" in pattern or pattern.endswith("ServiceNumberOfEntries"):
            continue  # vendor (DVB) extensions; Device.Services counts are TR-181's
        assert pattern in spec, f"{pattern} is not in TR-135/TR-140"
        kind, writable = spec[pattern]
        assert definition.type.value == kind, f"{pattern}: {definition.type.value} != {kind}"
        assert definition.writable == writable, f"{pattern}: writable {definition.writable}"
        checked += 1
    assert checked >= 130


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_response_heads_parse_or_fail_cleanly(data):
    with contextlib.suppress(HttpError):
        parse_head(data)
    request = _parse_request(data, "peer")  # None, or a request with a method and target
    assert request is None or isinstance(request.target, str)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_auth_headers_parse_or_fail_cleanly(text):
    with contextlib.suppress(AuthError):
        parse_params(text)
    parse_challenges([text, "Digest " + text])
    assert DigestServer().verify("Digest " + text, "GET", "u", "p") in ("ok", "stale", "fail")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.text(max_size=100))
def test_image_headers_and_urls_never_crash(head, query):
    result = read_header(b"CPESIM-IMAGE 1 " + head)
    assert result is None or isinstance(result, dict)
    url_hints("http://fus.example/x.img?" + query)
