"""The FUS stub file codec (TS 102 034 clause 9.2): the clause's examples, both forms, round trips,
refusals with line and key, and fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fus.discovery import stub
from fus.discovery.stub import (
    DeviceClassInfo,
    MulticastProtocol,
    ResourceAccessInfo,
    SoftwarePackageInfo,
    StubError,
    StubFile,
    UpgradeCandidate,
)
from tests.fus.discovery.strategies import stub_candidates, stub_files

EXAMPLES = Path("/work/shared/specs/fuss")
HEADER = "[_DVB-STUB-HEADER-v1.0]\n"

FRED = UpgradeCandidate(
    device_class_info=DeviceClassInfo("004567", "Fred", "1.01", "2.003"),
    software_package_info=SoftwarePackageInfo("Fred", 12345, 5000000, 25000000, False),
    resource_access_info=ResourceAccessInfo("http://download.cisco.com/STB-Software/fred1001.bin"),
)


def refusal(text: str | bytes) -> StubError:
    with pytest.raises(StubError) as caught:
        stub.parse(text.encode() if isinstance(text, str) else text)
    return caught.value


# --- the clause's examples ---------------------------------------------------------------------


def test_long_example_parses_with_its_quirks():
    # Packagename/Packagesize spelling, SignedPackage in [DeviceClassInfo], the four-digit OUI.
    parsed = stub.parse((EXAMPLES / "dvb-ipi-fus-stub.long.dvb").read_bytes())
    assert parsed == StubFile((FRED,))


def test_compact_example_parses_to_the_same_candidate():
    parsed = stub.parse((EXAMPLES / "dvb-ipi-fus-stub.compact.dvb").read_bytes())
    assert parsed == StubFile((FRED,))


def test_the_pdf_rendering_of_the_header_and_a_wrapped_compact_line_are_read():
    text = (
        "[_DVB-STUB-HEADER - v1.0]\r\n"
        '1a=4567;1b="Fred";1c="1.01";1d="2.003";2a="Fred";2b=12345;2c=5000000;2d=25000000;\r\n'
        "2e=0;3a=http://download.cisco.com/STB-Software/fred1001.bin\r\n"
    )
    assert stub.parse(text.encode()) == StubFile((FRED,))


def test_writing_the_example_gives_both_forms():
    doc = StubFile((FRED,))
    assert stub.write(doc).decode() == (
        "[_DVB-STUB-HEADER-v1.0]\n"
        "[DeviceClassInfo]\n"
        "ManufacturerOUI = 004567\n"
        'ProductClass = "Fred"\n'
        'HardwareVersion = "1.01"\n'
        'SoftwareVersion = "2.003"\n'
        "[SoftwarePackageInfo]\n"
        'PackageName = "Fred"\n'
        "PackageSize = 12345\n"
        "FootprintSizeVolatile = 5000000\n"
        "FootprintSizeNonVolatile = 25000000\n"
        "SignedPackaged = 0\n"
        "[ResourceAccessInfo]\n"
        "URL = http://download.cisco.com/STB-Software/fred1001.bin\n"
    )
    assert stub.write(doc, compact=True).decode() == (
        "[_DVB-STUB-HEADER-v1.0]\n"
        '1a=004567;1b="Fred";1c="1.01";1d="2.003";2a="Fred";2b=12345;2c=5000000;2d=25000000;'
        "2e=0;3a=http://download.cisco.com/STB-Software/fred1001.bin\n"
    )


def test_several_candidates_one_header():
    other = UpgradeCandidate(
        DeviceClassInfo("00D09E", "NL-STB4000"),
        ResourceAccessInfo("239.1.2.3:3937", MulticastProtocol.DVBSTP),
    )
    doc = StubFile((FRED, other))
    long_form = stub.write(doc).decode()
    assert long_form.count("[_DVB-STUB-HEADER-v1.0]") == 1
    assert long_form.count("[DeviceClassInfo]") == 2
    assert "[SoftwarePackageInfo]" in long_form.split("\n\n")[0]
    assert "[SoftwarePackageInfo]" not in long_form.split("\n\n")[1]  # nothing to say: omitted
    compact = stub.write(doc, compact=True).decode().splitlines()
    assert len(compact) == 3 and compact[1].endswith(";") and not compact[2].endswith(";")
    assert stub.parse(long_form.encode()) == doc
    assert stub.parse("\n".join(compact).encode()) == doc
    # A reader that joins the compact lines sees the same elements.
    assert stub.parse((compact[0] + "\n" + "".join(compact[1:])).encode()) == doc


def test_a_header_repeated_before_each_candidate_is_accepted():
    one = stub.write(StubFile((FRED,))).decode()
    assert stub.parse((one + "\n" + one).encode()) == StubFile((FRED, FRED))
    # ... even switching form between headers.
    compact = stub.write(StubFile((FRED,)), compact=True).decode()
    assert stub.parse((one + compact).encode()) == StubFile((FRED, FRED))


def test_empty_stub_is_the_header_alone():
    assert stub.write(StubFile()) == HEADER.encode()
    assert stub.parse(HEADER.encode()) == StubFile()
    assert stub.write(StubFile(), compact=True) == HEADER.encode()


def test_escapes_in_strings():
    candidate = UpgradeCandidate(
        DeviceClassInfo("00D09E", 'Box; "4K" 100%'),
        ResourceAccessInfo("http://fus.example/x;y".replace(";", "%3B")),
    )
    text = stub.write(StubFile((candidate,)), compact=True).decode()
    assert '1b="Box%3B %224K%22 100%25"' in text
    assert text.count(";") == 2  # only the separators: a naive split on ";" works
    assert stub.parse(text.encode()) == StubFile((candidate,))
    # Other percent sequences in strings are left alone; unquoted strings are taken as written.
    parsed = stub.parse(f'{HEADER}1a=00D09E;1b="a%41";1c=plain text;3a=http://h/'.encode())
    info = parsed.candidates[0].device_class_info
    assert (info.product_class, info.hardware_version) == ("a%41", "plain text")


def test_keys_are_case_insensitive_and_spacing_free():
    text = f"{HEADER}[deviceclassinfo]\nmanufactureroui=00d09e\n[RESOURCEACCESSINFO]\n  url   =   http://h/f.bin  \n"
    assert stub.parse(text.encode()) == StubFile(
        (UpgradeCandidate(DeviceClassInfo("00D09E"), ResourceAccessInfo("http://h/f.bin")),)
    )
    assert stub.parse(f"{HEADER}1A=00D09E;3A=http://h/f.bin".encode()) == stub.parse(text.encode())


def test_bom_and_crlf():
    data = b"\xef\xbb\xbf" + stub.write(StubFile((FRED,))).replace(b"\n", b"\r\n")
    assert stub.parse(data) == StubFile((FRED,))


# --- refusals ----------------------------------------------------------------------------------


def test_missing_header():
    error = refusal("[DeviceClassInfo]\nManufacturerOUI = 00D09E\n")
    assert error.issues[0].line == 1
    assert "missing header" in str(error) and "[_DVB-STUB-HEADER-v1.0]" in str(error)
    assert "missing header" in str(refusal("\n\n1a=00D09E;3a=http://h/"))
    assert refusal("\n\n1a=00D09E;3a=http://h/").issues[0].line == 3


def test_empty_file_and_other_header_version():
    assert "empty" in str(refusal(b""))
    error = refusal("[_DVB-STUB-HEADER-v2.0]\n1a=00D09E;3a=http://h/\n")
    assert "unsupported stub header version" in str(error)


def test_unknown_section_names_line_and_section():
    error = refusal(f"{HEADER}[DeviceClassInfo]\nManufacturerOUI = 00D09E\n[Firmware]\nURL = x\n")
    issue = next(i for i in error.issues if i.key == "[Firmware]")
    assert issue.line == 4 and "unknown section" in issue.message
    assert "line 4, [Firmware]: unknown section" in str(error)
    # The element under the unknown section is reported too, not silently dropped.
    assert any(i.line == 5 and "outside any valid section" in i.message for i in error.issues)


def test_unknown_key_and_key_in_wrong_section():
    error = refusal(
        f"{HEADER}[DeviceClassInfo]\nManufacturerOUI = 00D09E\nColour = red\nPackageSize = 3\n"
        "[ResourceAccessInfo]\nURL = http://h/\n"
    )
    assert [(i.line, i.key) for i in error.issues] == [(4, "Colour"), (5, "PackageSize")]
    assert "unknown element in [DeviceClassInfo]" in error.issues[0].message
    assert "belongs in [SoftwarePackageInfo]" in error.issues[1].message
    error = refusal(f"{HEADER}1a=00D09E;4z=1;3a=http://h/")
    assert (error.issues[0].line, error.issues[0].key) == (2, "4z")


@pytest.mark.parametrize(
    ("element", "value", "message"),
    [
        ("2b", "12a45", "PackageSize must be a whole number"),
        ("2b", "-1", "PackageSize must be a whole number"),
        ("2c", "9223372036854775808", "FootprintSizeVolatile must be a whole number"),
        ("2e", "2", "SignedPackaged must be 0 or 1"),
        ("1a", "00D09G", "ManufacturerOUI must be a 24-bit number"),
        ("1a", "1234567", "ManufacturerOUI must be a 24-bit number"),
        ("3b", "3", "Protocol must be 1 (SAP) or 2 (DVBSTP)"),
    ],
)
def test_bad_values_name_line_key_and_value(element, value, message):
    fields = {"1a": "00D09E", "3a": "http://h/f.bin", element: value}
    body = ";".join(f"{k}={v}" for k, v in fields.items())
    error = refusal(f"{HEADER}\n{body}\n")
    issue = error.issues[0]
    assert (issue.line, issue.key, issue.value) == (3, element, value)
    assert message in issue.message
    assert f"line 3, {element}: " in str(error)


def test_bad_number_in_long_form():
    error = refusal(
        f"{HEADER}[DeviceClassInfo]\nManufacturerOUI = 00D09E\n[SoftwarePackageInfo]\n"
        "Packagesize = twelve\n[ResourceAccessInfo]\nURL = http://h/\n"
    )
    assert (error.issues[0].line, error.issues[0].key, error.issues[0].value) == (
        5,
        "Packagesize",
        "twelve",
    )


def test_mandatory_elements():
    error = refusal(
        f'{HEADER}[DeviceClassInfo]\nProductClass = "x"\n[ResourceAccessInfo]\nURL = http://h/\n'
    )
    assert error.issues[0].line == 2 and "no ManufacturerOUI (1a)" in error.issues[0].message
    error = refusal(f'{HEADER}1a=00D09E;1b="x"')
    assert "no URL (3a)" in str(error)
    error = refusal(f'{HEADER}1b="x";1a=00D09E;3a=http://h/')
    assert "element before 1a" in str(error)


def test_a_bare_multicast_address_needs_a_protocol():
    error = refusal(f"{HEADER}1a=00D09E;3a=239.1.1.1:9875")
    assert "needs Protocol (3b)" in str(error)
    parsed = stub.parse(f"{HEADER}1a=00D09E;3a=239.1.1.1:9875;3b=1".encode())
    assert parsed.candidates[0].resource_access_info.protocol is MulticastProtocol.SAP
    # dvb-mcast carries its payload type itself.
    assert stub.parse(f"{HEADER}1a=00D09E;3a=dvb-mcast://239.1.1.1:9875?payload=sap".encode())


def test_duplicates_and_conflicting_signed_flags():
    error = refusal(f"{HEADER}1a=00D09E;2b=1;2b=2;3a=http://h/")
    assert "given twice" in str(error)
    error = refusal(
        f"{HEADER}[DeviceClassInfo]\nManufacturerOUI = 00D09E\nSignedPackage = 1\n"
        "[SoftwarePackageInfo]\nSignedPackaged = 0\n[ResourceAccessInfo]\nURL = http://h/\n"
    )
    assert error.issues[0].line == 6 and "given twice" in error.issues[0].message
    error = refusal(
        f"{HEADER}[DeviceClassInfo]\nManufacturerOUI = 00D09E\n[ResourceAccessInfo]\nURL = http://h/\n"
        "[ResourceAccessInfo]\nURL = http://g/\n"
    )
    assert "[ResourceAccessInfo] given twice" in str(error)


def test_bad_urls_and_quotes():
    assert "absolute URL" in str(refusal(f"{HEADER}1a=00D09E;3a=relative/path"))
    assert "white space" in str(refusal(f'{HEADER}1a=00D09E;3a="http://h/a b"'))
    assert "must end with a double quote" in str(refusal(f'{HEADER}1a=00D09E;1b="x;3a=http://h/'))
    inner = f'{HEADER}[DeviceClassInfo]\nManufacturerOUI = 00D09E\nProductClass = "a"b"\n'
    assert "must be written as %22" in str(refusal(inner + "[ResourceAccessInfo]\nURL = http://h/"))


def test_not_utf8_control_characters_and_size():
    error = refusal(HEADER.encode() + b'1a=00D09E;1b="\xff";3a=http://h/')
    assert "UTF-8" in str(error) and error.issues[0].line == 2
    assert "control characters" in str(refusal(f'{HEADER}1a=00D09E;1b="a\x00b";3a=http://h/'))
    big = HEADER.encode() + b" " * stub.MAX_STUB_BYTES
    assert "limit" in str(refusal(big))
    with pytest.raises(TypeError):
        stub.parse(HEADER)  # type: ignore[arg-type]


def test_errors_are_collected_in_line_order():
    error = refusal(f"{HEADER}1a=XYZ;2b=x;3a=http://h/\n1a=00D09E;2e=7;3a=http://h/\n")
    assert [i.line for i in error.issues] == [2, 2, 3]


def test_writer_refuses_what_the_format_cannot_carry():
    for candidate, text in [
        (
            UpgradeCandidate(DeviceClassInfo("00d09e"), ResourceAccessInfo("http://h/")),
            "six upper-case",
        ),
        (
            UpgradeCandidate(DeviceClassInfo("00D09E", "a\nb"), ResourceAccessInfo("http://h/")),
            "one line",
        ),
        (
            UpgradeCandidate(DeviceClassInfo("00D09E"), ResourceAccessInfo("http://h/a;b")),
            'contain ";"',
        ),
        (
            UpgradeCandidate(DeviceClassInfo("00D09E"), ResourceAccessInfo("239.1.1.1")),
            "needs Protocol",
        ),
        (
            UpgradeCandidate(
                DeviceClassInfo("00D09E"),
                ResourceAccessInfo("http://h/"),
                SoftwarePackageInfo(package_size=-1),
            ),
            "whole number",
        ),
    ]:
        with pytest.raises(StubError, match=text) as caught:
            stub.write(StubFile((candidate,)))
        assert caught.value.issues[0].key.startswith("candidate 1 ")


# --- properties --------------------------------------------------------------------------------


@given(stub_files, st.booleans())
def test_round_trip(doc, compact):
    assert stub.parse(stub.write(doc, compact=compact)) == doc


@given(stub_files)
def test_both_forms_carry_the_same_information(doc):
    assert stub.parse(stub.write(doc)) == stub.parse(stub.write(doc, compact=True))


@given(st.binary(max_size=400))
def test_fuzz_bytes(data):
    try:
        stub.parse(HEADER.encode() + data)
        stub.parse(data)
    except StubError as error:
        assert error.issues and all(str(i) for i in error.issues)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stub_candidates, min_size=1, max_size=2), st.booleans(), st.data())
def test_fuzz_mutated_files(candidates, compact, data):
    text = stub.write(StubFile(tuple(candidates)), compact=compact).decode()
    position = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 5))
    insert = data.draw(st.text(st.sampled_from('[]=;"%\n\r ab1\x00'), max_size=4))
    mutated = text[:position] + insert + text[position + cut :]
    try:
        result = stub.parse(mutated.encode())
    except StubError as error:
        assert all(i.message for i in error.issues)
    else:
        # Whatever was accepted can be written again and read back the same.
        assert stub.parse(stub.write(result)) == result
