"""Typed values, times, fault codes, serialisation, and the package's purity."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from acs.cwmp import messages as m
from acs.cwmp.faults import FaultCode, fault_description, soap_fault_code


@pytest.mark.parametrize(
    ("text", "xsd_type"),
    [
        ("2147483648", m.XsdType.INT),
        ("-1", m.XsdType.UNSIGNED_INT),
        ("4294967296", m.XsdType.UNSIGNED_INT),
        ("1.5", m.XsdType.LONG),
        ("18446744073709551616", m.XsdType.UNSIGNED_LONG),
        ("yes", m.XsdType.BOOLEAN),
        ("TRUE", m.XsdType.BOOLEAN),
        ("2026-02-30T00:00:00Z", m.XsdType.DATE_TIME),
        ("0000-00-00T00:00:00", m.XsdType.DATE_TIME),
        ("not base64!", m.XsdType.BASE64),
        ("ABC", m.XsdType.HEX_BINARY),
    ],
)
def test_typed_value_refuses_text_that_does_not_fit_its_type(
    text: str, xsd_type: m.XsdType
) -> None:
    with pytest.raises(ValueError):
        m.TypedValue(text, xsd_type)


def test_typed_value_accepts_the_type_by_name_and_converts() -> None:
    assert m.TypedValue("7", "unsignedInt") == m.TypedValue("7", m.XsdType.UNSIGNED_INT)  # type: ignore[arg-type]
    assert m.TypedValue("-7", m.XsdType.LONG).to_python() == -7
    assert m.TypedValue("0", m.XsdType.BOOLEAN).to_python() is False
    assert m.TypedValue("0A0b", m.XsdType.HEX_BINARY).to_python() == b"\n\x0b"
    assert m.TypedValue("AAE=", m.XsdType.BASE64).to_python() == b"\x00\x01"
    assert m.TypedValue("0001-01-01T00:00:00Z", m.XsdType.DATE_TIME).to_python() is None
    assert m.TypedValue(" x ").to_python() == " x "


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, m.TypedValue("true", m.XsdType.BOOLEAN)),
        (12, m.TypedValue("12", m.XsdType.INT)),
        (
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            m.TypedValue("2026-01-02T03:04:05Z", "dateTime"),
        ),
        (b"\xff", m.TypedValue("/w==", m.XsdType.BASE64)),
        ("x", m.TypedValue("x")),
    ],
)
def test_typed_value_of_python_values(value: object, expected: m.TypedValue) -> None:
    assert m.TypedValue.of(value) == expected  # type: ignore[arg-type]
    assert m.TypedValue.of(value).to_python() == value  # type: ignore[arg-type]


def test_times() -> None:
    assert m.format_datetime(None) == "0001-01-01T00:00:00Z"
    plus_one = timezone(timedelta(hours=1))
    assert (
        m.format_datetime(datetime(2026, 1, 1, 12, tzinfo=plus_one)) == "2026-01-01T12:00:00+01:00"
    )
    assert m.parse_datetime("2026-01-01T12:00:00.1234567891-05:00") == datetime(
        2026, 1, 1, 12, 0, 0, 123456, tzinfo=timezone(-timedelta(hours=5))
    )
    assert m.parse_datetime(" 0000-00-00T00:00:00 ") is None
    with pytest.raises(ValueError):
        m.parse_datetime("14/03/2026 10:00")


def test_from_dict_refuses_unknown_types() -> None:
    with pytest.raises(ValueError, match="unknown message type"):
        m.from_dict({"_type": "Envelope"})
    with pytest.raises(TypeError):
        m.to_dict(object())


def test_download_password_is_kept_out_of_repr() -> None:
    download = m.Download("k", "1 Firmware Upgrade Image", "http://x", password="hunter2")
    assert "hunter2" not in repr(download)


def test_fault_codes() -> None:
    assert FaultCode(8000) is FaultCode.ACS_METHOD_NOT_SUPPORTED
    assert FaultCode.FILE_TRANSFER_FAILURE == 9010
    assert FaultCode.INVALID_PARAMETER_VALUE.description == "Invalid parameter value"
    assert {code for code in FaultCode if code < 9000} == set(range(8000, 8006))
    assert {code for code in FaultCode if code >= 9000} == set(range(9000, 9033))
    assert fault_description(9005) == "Invalid parameter name"
    assert fault_description(8850) == "Vendor-specific ACS fault"
    assert fault_description(9850) == "Vendor-specific CPE fault"
    assert fault_description(8100) == "Reserved ACS fault"
    assert fault_description(42) == "Unknown fault"
    assert soap_fault_code(8003) == "Client"
    assert soap_fault_code(9002) == "Server"
    assert soap_fault_code(9850) == "Server"


def test_the_package_imports_no_framework() -> None:
    code = (
        "import sys, acs.cwmp.codec, acs.cwmp.session, acs.cwmp.messages, acs.cwmp.faults\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in "
        "{'django', 'rest_framework', 'celery', 'channels', 'spyne', 'portal'})\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
