"""The metadata codec: golden documents, round trips, and every kind of bad input."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

from fus.metadata import codec
from fus.metadata import model as m
from fus.metadata.codec import RMS, RMS12, MetadataError, Severity
from tests.fus.metadata import strategies as S

DATA = Path(__file__).with_name("data")
RMS_DOC = (DATA / "seed-example-rms.xml").read_bytes()
RMS12_DOC = (DATA / "managed-rms12.xml").read_bytes()
PREFIX = b"/RMSFUSMetadata/FirmwareUpgrade/TargetDevices/DeviceGroup[1]/RangeList"

ROUND_TRIP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def refused(data: bytes) -> MetadataError:
    with pytest.raises(MetadataError) as info:
        codec.parse(data)
    assert info.value.errors, "a refused document has at least one error"
    return info.value


def edited(old: bytes, new: bytes, doc: bytes = RMS_DOC) -> bytes:
    assert old in doc, old
    return doc.replace(old, new, 1)


# -- golden documents -------------------------------------------------------------------------


def test_golden_rms_document():
    result = codec.read(RMS_DOC)
    doc = result.document
    assert result.namespace is RMS
    assert result.warnings == ()
    assert doc.mode is m.Mode.UNMANAGED
    assert doc.ce_manufacturer.manufacturer_oui == "00D09E"
    assert doc.ce_manufacturer.reporting_orders == (
        m.ResourceAccessInfo(url="https://reports.example.com/ssu"),
    )
    assert doc.fus is not None
    assert doc.fus.supported_interfaces == (
        m.Interface.MULTICAST_DELIVERY,
        m.Interface.QUERY_RESPONSE_CHANNEL,
    )
    assert doc.fus.source_address == "192.168.1.1"
    assert doc.fus.delivery_rate == 2_000_000
    assert doc.fus.fus_query_interface_locations[0].preference == 1
    fu = doc.firmware_upgrade
    assert fu.software_version == "2.0.1"
    (group,) = fu.target_devices.device_groups
    assert group.device_class_info == m.DeviceClassInfo("00D09E", "STB7100", (), ("1.9.0",))
    assert group.range_list == m.RangeList(
        (
            m.Range("123123", "456456", m.Availability.INCLUSIVE),
            m.Range("231231", "255555", m.Availability.EXCLUSIVE),
            m.Item(("678678", "678688", "678698", "678778"), m.Availability.INCLUSIVE),
        )
    )
    assert fu.validity_time_range == m.ValidityTimeRange(
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(2025, 12, 31, 22, 59, 59, tzinfo=UTC),
    )
    spi = fu.software_package_info
    assert spi.package_size == 1_048_576
    assert spi.package_files == (m.PackageFile("kernel.bin", 524_288, None, "kernel"),)
    assert spi.footprint_size == m.FootprintSize(65_536, 2_097_152)
    assert spi.image_packaging == m.ImagePackaging(signed_packaging=True, manifest=False)
    assert spi.update_descriptor == m.UpdateDescriptor(
        m.UpdateFlag.AUTOMATIC, m.UpdateMethod.NEXT_RESTART, 2
    )
    assert fu.message_descriptors == (m.MessageDescriptor("A new version is available.", "eng"),)


def test_golden_rms12_document_with_ipv6():
    result = codec.read(RMS12_DOC)
    doc = result.document
    assert result.namespace is RMS12
    assert doc.mode is m.Mode.MANAGED
    assert doc.fus is not None and doc.fus.source_address == "2001:db8::1"
    assert doc.rms is not None
    assert doc.rms.management_server_locations[1] == m.ResourceAccessInfo(
        address="2001:db8::10", port=7547, preference=2
    )
    assert doc.target_devices_info == m.TargetDevicesInfo(
        (m.Interface.UNICAST_DELIVERY, m.Interface.CPE_MANAGEMENT), "bootloader >= 3"
    )
    assert doc.firmware_upgrade.target_devices.device_classes == (
        m.DeviceClass("00D09E", "STB7000"),
    )
    last = doc.firmware_upgrade.target_devices.device_groups[0].range_list.entries[-1]
    assert last == m.Item(
        ("00:d0:9e:00:00:01",), m.Availability.EXCLUSIVE, m.IdentifierType.MAC_ADDRESS
    )


def test_write_is_utf8_with_declaration_and_reads_back():
    doc = codec.parse(RMS12_DOC)
    out = codec.write(doc)
    assert out.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<rms12:RMSFUSMetadata')
    assert codec.parse(out) == doc
    assert codec.write(codec.parse(out)) == out


def test_write_namespace_defaults_to_the_oldest_that_can_express_the_document():
    assert codec.read(codec.write(codec.parse(RMS_DOC))).namespace is RMS
    assert codec.read(codec.write(codec.parse(RMS12_DOC))).namespace is RMS12
    assert codec.read(codec.write(codec.parse(RMS_DOC), namespace=RMS12)).namespace is RMS12


def test_write_refuses_ipv6_in_the_rms_namespace():
    with pytest.raises(MetadataError) as info:
        codec.write(codec.parse(RMS12_DOC), namespace=RMS)
    messages = " ".join(i.message for i in info.value.errors)
    assert "IPv6" in messages or "2001:db8::1" in messages
    paths = {i.path for i in info.value.errors}
    assert "/RMSFUSMetadata/FUS/SourceAddress" in paths


def test_write_refuses_an_invalid_document_with_a_path():
    doc = codec.parse(RMS_DOC)
    bad = m.RMSFUSMetadata(
        mode=doc.mode,
        ce_manufacturer=m.CEManufacturer("00d09e"),
        firmware_upgrade=doc.firmware_upgrade,
    )
    with pytest.raises(MetadataError) as info:
        codec.write(bad)
    (issue,) = info.value.errors
    assert issue.path == "/RMSFUSMetadata/CEManufacturer/ManufacturerOUI"
    assert issue.value == "00d09e"


def test_write_refuses_text_xml_cannot_carry():
    doc = codec.parse(RMS_DOC)
    bad = m.RMSFUSMetadata(
        mode=doc.mode,
        ce_manufacturer=m.CEManufacturer("00D09E", manufacturer_name="bell\x07"),
        firmware_upgrade=doc.firmware_upgrade,
    )
    with pytest.raises(MetadataError) as info:
        codec.write(bad)
    assert info.value.errors[0].path == "/RMSFUSMetadata/CEManufacturer/ManufacturerName"


# -- round trips ------------------------------------------------------------------------------


@ROUND_TRIP
@given(S.documents())
def test_round_trip_rms12(doc):
    result = codec.read(codec.write(doc, namespace=RMS12))
    assert result.document == doc
    assert result.namespace is RMS12


@ROUND_TRIP
@given(S.documents(ipv6=False))
def test_round_trip_rms(doc):
    result = codec.read(codec.write(doc, namespace=RMS))
    assert result.document == doc
    assert result.namespace is RMS


@ROUND_TRIP
@given(S.range_lists(), S.validity_time_ranges())
def test_round_trip_of_the_structures_that_matter_for_targeting(range_list, validity):
    base = codec.parse(RMS_DOC)
    group = m.DeviceGroup(m.DeviceClassInfo("00D09E", "STB7100"), range_list)
    doc = m.RMSFUSMetadata(
        mode=base.mode,
        ce_manufacturer=base.ce_manufacturer,
        firmware_upgrade=m.FirmwareUpgrade(
            "3.0",
            m.TargetDevices(device_groups=(group,)),
            base.firmware_upgrade.software_package_info,
            validity,
        ),
    )
    assert codec.parse(codec.write(doc)) == doc


# -- hostile input ----------------------------------------------------------------------------


def test_external_entity_is_refused_and_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    data = edited(
        b'<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE rms:RMSFUSMetadata '
        f'[<!ENTITY xxe SYSTEM "file://{secret}">]>\n'.encode(),
    )
    data = edited(b"Example STB Co.", b"&xxe;", data)
    error = refused(data)
    assert "DOCTYPE" in error.errors[0].message
    assert "TOP-SECRET" not in str(error)
    assert all("TOP-SECRET" not in (i.value or "") for i in error.issues)


def test_external_dtd_is_not_fetched():
    data = edited(
        b'<?xml version="1.0" encoding="UTF-8"?>\n',
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<!DOCTYPE rms:RMSFUSMetadata SYSTEM "http://attacker.invalid/evil.dtd">\n',
    )
    assert "DOCTYPE" in refused(data).errors[0].message


def test_entity_expansion_bomb_is_refused_quickly():
    levels = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    data = (
        '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY l0 "lol">' + levels + "]>\n"
        '<r xmlns="urn:x-rms-fus-portal:metadata:rms:2009">&l9;</r>'
    ).encode()
    started = time.perf_counter()
    error = refused(data)
    assert time.perf_counter() - started < 5
    assert "DOCTYPE" in error.errors[0].message
    assert len(str(error)) < 2000


def test_oversized_document_is_refused_before_parsing():
    padding = b" " * (codec.MAX_DOCUMENT_BYTES + 1 - len(RMS_DOC))
    error = refused(RMS_DOC + padding)
    assert "limit" in error.errors[0].message
    assert str(codec.MAX_DOCUMENT_BYTES) in error.errors[0].message


def test_hundred_megabyte_document_is_refused():
    data = b"<a>" + b"x" * (100 * 1024 * 1024) + b"</a>"
    assert "limit" in refused(data).errors[0].message


def test_document_at_the_limit_is_parsed():
    chunk = b" " * 1_000_000 + b"<!---->"
    room = codec.MAX_DOCUMENT_BYTES - len(RMS_DOC)
    padding = chunk * (room // len(chunk))
    padding += b" " * (room - len(padding))
    data = RMS_DOC + padding
    assert len(data) == codec.MAX_DOCUMENT_BYTES
    assert codec.parse(data) == codec.parse(RMS_DOC)


def test_not_well_formed_reports_the_line():
    error = refused(edited(b"</rms:PackageName>", b"</rms:PackageNme>"))
    assert "well-formed" in error.errors[0].message
    assert error.errors[0].line == RMS_DOC[: RMS_DOC.index(b"</rms:PackageName>")].count(b"\n") + 1


def test_non_utf8_encoding_is_refused():
    text = RMS_DOC.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    assert "UTF-8" in refused(text.encode("utf-16")).errors[0].message


def test_bytes_are_required():
    with pytest.raises(TypeError):
        codec.parse(RMS_DOC.decode())  # type: ignore[arg-type]


# -- wrong namespace and unknown elements -----------------------------------------------------


def test_wrong_namespace_is_refused():
    data = RMS_DOC.replace(b"urn:x-rms-fus-portal:metadata:rms:2009", b"urn:example:other")
    (issue,) = refused(data).errors
    assert "wrong namespace" in issue.message
    assert issue.value == "urn:example:other"
    assert issue.path == "/RMSFUSMetadata"


def test_missing_namespace_is_refused():
    text = (
        RMS_DOC.decode()
        .replace("rms:", "")
        .replace(' xmlns="urn:x-rms-fus-portal:metadata:rms:2009"', "")
    )
    text = text.replace('xmlns="urn:x-rms-fus-portal:metadata:rms:2009"', "")
    text = text.replace(' xmlns:rms="urn:x-rms-fus-portal:metadata:rms:2009"', "")
    assert "no namespace" in refused(text.encode()).errors[0].message


def test_wrong_root_element_is_refused():
    data = RMS_DOC.replace(b"rms:RMSFUSMetadata", b"rms:Metadata")
    assert "root element is Metadata" in refused(data).errors[0].message


def test_unknown_element_in_our_namespace_is_an_error_with_line_and_path():
    data = edited(b"<rms:DeliveryRate>", b"<rms:Colour>red</rms:Colour><rms:DeliveryRate>")
    (issue,) = refused(data).errors
    assert issue.path == "/RMSFUSMetadata/FUS/Colour"
    assert issue.line == data[: data.index(b"<rms:Colour>")].count(b"\n") + 1
    assert "not expected" in issue.message
    assert issue.value == "red"


def test_unknown_element_without_namespace_is_an_error():
    data = edited(b"<rms:DeliveryRate>", b"<Colour>red</Colour><rms:DeliveryRate>")
    assert refused(data).errors[0].path == "/RMSFUSMetadata/FUS/Colour"


def test_foreign_extension_element_is_a_warning_and_ignored():
    data = edited(
        b"</rms:FUS>",
        b'<x:Rack xmlns:x="urn:example:vendor"><x:Slot>4</x:Slot></x:Rack></rms:FUS>',
    )
    result = codec.read(data)
    assert result.document == codec.parse(RMS_DOC)
    (warning,) = result.warnings
    assert warning.severity is Severity.WARNING
    assert warning.path == "/RMSFUSMetadata/FUS/x:Rack"
    assert "ignored" in warning.message


def test_foreign_extension_attribute_is_a_warning():
    data = edited(b"<rms:FUS>", b'<rms:FUS xmlns:x="urn:example:vendor" x:site="north">')
    (warning,) = codec.read(data).warnings
    assert warning.path == "/RMSFUSMetadata/FUS"
    assert warning.value == "north"


def test_foreign_element_in_a_range_list_is_an_error():
    """Extensions must not change whom an update targets: RangeList is closed."""
    data = edited(
        b"</rms:RangeList>",
        b'<x:Except xmlns:x="urn:example:vendor">1</x:Except></rms:RangeList>',
    )
    (issue,) = refused(data).errors
    assert issue.path.startswith(PREFIX.decode())


def test_unknown_attribute_is_an_error():
    data = edited(
        b'<rms:Range Availability="inclusive">', b'<rms:Range Availability="inclusive" Step="2">'
    )
    (issue,) = refused(data).errors
    assert issue.path == (PREFIX + b"/Range[1]").decode()
    assert "Step" in issue.message


def test_mixing_rms_and_rms12_is_an_error():
    data = edited(
        b"</rms:FUS>",
        b'<v:DeliveryRate xmlns:v="urn:x-rms-fus-portal:metadata:rms12:2012">1</v:DeliveryRate>'
        b"</rms:FUS>",
    )
    (issue,) = refused(data).errors
    assert "one namespace" in issue.message


# -- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize("oui", [b"00D0XE", b"00D09", b"00D09E0", b"00d09e", b" 00D09E"])
def test_non_hex_oui_is_refused(oui):
    data = edited(
        b"<rms:ManufacturerOUI>00D09E</rms:ManufacturerOUI>\n    <rms:ManufacturerName>",
        b"<rms:ManufacturerOUI>" + oui + b"</rms:ManufacturerOUI>\n    <rms:ManufacturerName>",
    )
    (issue,) = refused(data).errors
    assert issue.path == "/RMSFUSMetadata/CEManufacturer/ManufacturerOUI"
    assert issue.line == 5
    assert issue.value == oui.decode().strip()
    assert "six upper-case hexadecimal digits" in issue.message


def test_oui_in_a_device_group_is_reported_with_its_path():
    data = edited(
        b"<rms:ManufacturerOUI>00D09E</rms:ManufacturerOUI>\n          <rms:ProductClass>",
        b"<rms:ManufacturerOUI>OUI</rms:ManufacturerOUI>\n          <rms:ProductClass>",
    )
    (issue,) = refused(data).errors
    assert issue.path == (
        "/RMSFUSMetadata/FirmwareUpgrade/TargetDevices/DeviceGroup[1]/DeviceClassInfo/"
        "ManufacturerOUI"
    )


def test_inverted_serial_range_is_refused():
    data = edited(b"<rms:UpperBound>255555<", b"<rms:UpperBound>225555<")
    (issue,) = refused(data).errors
    assert issue.path == (PREFIX + b"/Range[2]").decode()
    assert "inverted range" in issue.message
    assert issue.value == "231231..225555"


def test_serial_range_inversion_uses_the_ordering_rule():
    """'99' < '100' although '99' > '100' character by character."""
    data = edited(b"<rms:LowerBound>123123<", b"<rms:LowerBound>99<")
    data = edited(b"<rms:UpperBound>456456<", b"<rms:UpperBound>100<", data)
    data = edited(b"<rms:LowerBound>231231<", b"<rms:LowerBound>99<", data)
    data = edited(b"<rms:UpperBound>255555<", b"<rms:UpperBound>0100<", data)
    codec.parse(data)
    assert refused(edited(b"<rms:UpperBound>100<", b"<rms:UpperBound>098<", data))


def test_inverted_mac_range_is_refused_across_notations():
    mac_range = (
        b'<rms:Range Availability="exclusive" IdentifierType="MACAddress">'
        b"<rms:LowerBound>%s</rms:LowerBound><rms:UpperBound>%s</rms:UpperBound></rms:Range>"
    )
    ok = edited(
        b"</rms:RangeList>",
        mac_range % (b"00d0.9e00.0001", b"00-D0-9E-00-00-02") + b"</rms:RangeList>",
    )
    codec.parse(ok)
    bad = edited(
        b"</rms:RangeList>",
        mac_range % (b"00D09E000003", b"00:d0:9e:00:00:02") + b"</rms:RangeList>",
    )
    (issue,) = refused(bad).errors
    assert issue.path == (PREFIX + b"/Range[3]").decode()
    assert "48-bit" in issue.message


def test_malformed_mac_is_refused():
    data = edited(
        b"</rms:RangeList>",
        b'<rms:Item IdentifierType="MACAddress"><rms:ItemID>00:d0:9e-00:00:01</rms:ItemID>'
        b"</rms:Item></rms:RangeList>",
    )
    (issue,) = refused(data).errors
    assert issue.path == (PREFIX + b"/Item[2]/ItemID[1]").decode()
    assert issue.value == "00:d0:9e-00:00:01"


def test_end_time_before_start_time_is_refused():
    data = edited(
        b"<rms:EndTime>2025-12-31T23:59:59+01:00", b"<rms:EndTime>2024-12-31T23:59:59+01:00"
    )
    (issue,) = refused(data).errors
    assert issue.path == "/RMSFUSMetadata/FirmwareUpgrade/ValidityTimeRange/EndTime"
    assert issue.value == "2024-12-31T23:59:59+01:00"
    assert "before StartTime" in issue.message


def test_end_time_before_start_time_across_time_zones():
    """Instants are compared, not wall-clock texts."""
    data = edited(
        b"<rms:EndTime>2025-12-31T23:59:59+01:00", b"<rms:EndTime>2025-01-01T00:30:00+01:00"
    )
    assert "before StartTime" in refused(data).errors[0].message


def test_equal_start_and_end_time_is_a_warning():
    data = edited(
        b"<rms:EndTime>2025-12-31T23:59:59+01:00", b"<rms:EndTime>2025-01-01T01:00:00+01:00"
    )
    (warning,) = codec.read(data).warnings
    assert "instant" in warning.message


def test_local_time_without_zone_is_refused():
    data = edited(b"<rms:StartTime>2025-01-01T00:00:00Z", b"<rms:StartTime>2025-01-01T00:00:00")
    (issue,) = refused(data).errors
    assert issue.path == "/RMSFUSMetadata/FirmwareUpgrade/ValidityTimeRange/StartTime"
    assert "time zone" in issue.message


def test_duplicate_item_ids_are_refused():
    data = edited(b"<rms:ItemID>678698</rms:ItemID>", b"<rms:ItemID>678678</rms:ItemID>")
    (issue,) = refused(data).errors
    assert issue.path == (PREFIX + b"/Item[1]/ItemID[3]").decode()
    assert "duplicate ItemID" in issue.message
    assert "ItemID[1]" in issue.message


def test_duplicate_item_ids_across_items_and_notations_are_refused():
    data = edited(
        b"</rms:RangeList>",
        b'<rms:Item IdentifierType="MACAddress"><rms:ItemID>00:d0:9e:00:00:01</rms:ItemID>'
        b'</rms:Item><rms:Item Availability="exclusive" IdentifierType="MACAddress">'
        b"<rms:ItemID>00D0.9E00.0001</rms:ItemID></rms:Item>"
        b"<rms:Item><rms:ItemID>0678688</rms:ItemID></rms:Item></rms:RangeList>",
    )
    issues = refused(data).errors
    assert [i.path for i in issues] == [
        (PREFIX + b"/Item[3]/ItemID[1]").decode(),
        (PREFIX + b"/Item[4]/ItemID[1]").decode(),
    ]


def test_same_value_as_serial_and_as_mac_is_not_a_duplicate():
    data = edited(
        b"</rms:RangeList>",
        b'<rms:Item IdentifierType="MACAddress"><rms:ItemID>000000678678</rms:ItemID>'
        b"</rms:Item></rms:RangeList>",
    )
    codec.parse(data)


def test_every_error_is_reported_at_once():
    data = edited(b"<rms:UpperBound>255555<", b"<rms:UpperBound>225555<")
    data = edited(b"<rms:ItemID>678698</rms:ItemID>", b"<rms:ItemID>678678</rms:ItemID>", data)
    data = edited(b"<rms:EndTime>2025-12-31", b"<rms:EndTime>2024-12-31", data)
    error = refused(data)
    assert len(error.errors) == 3
    assert "(and" not in str(error)
    assert str(error).count("error: line ") == 3


def test_empty_target_devices_is_refused():
    start = RMS_DOC.index(b"<rms:TargetDevices>")
    end = RMS_DOC.index(b"</rms:TargetDevices>")
    data = RMS_DOC[:start] + b"<rms:TargetDevices>" + RMS_DOC[end:]
    (issue,) = refused(data).errors
    assert issue.path == "/RMSFUSMetadata/FirmwareUpgrade/TargetDevices"


def test_ipv6_address_needs_rms12():
    data = edited(b"<rms:SourceAddress>192.168.1.1<", b"<rms:SourceAddress>2001:db8::1<")
    (issue,) = refused(data).errors
    assert issue.path == "/RMSFUSMetadata/FUS/SourceAddress"


def test_ipv6_url_needs_rms12():
    data = edited(b"https://fus.example.com/qrc", b"https://[2001:db8::5]/qrc")
    (issue,) = refused(data).errors
    assert issue.path == "/RMSFUSMetadata/FUS/FUSQueryInterfaceLocation[1]/URL"
    assert "rms12" in issue.message


def test_malformed_ipv6_is_refused_in_rms12():
    data = edited(b"2001:db8::10", b"2001:db8:::10", RMS12_DOC)
    (issue,) = refused(data).errors
    assert issue.path == "/RMSFUSMetadata/RMS/ManagementServerLocation[2]/Address"


def test_target_devices_support_interfaces_5_to_9_only():
    data = edited(b"<rms12:Interface>Unicast Delivery<", b"<rms12:Interface>Metadata<", RMS12_DOC)
    (issue,) = refused(data).errors
    assert issue.path == "/RMSFUSMetadata/TargetDevicesInfo/SupportedInterfaces/Interface[1]"
    assert "interface 2" in issue.message


def test_unknown_enumeration_value_names_the_attribute():
    data = edited(b'Availability="exclusive"', b'Availability="Exclusive"')
    (issue,) = refused(data).errors
    assert issue.path == (PREFIX + b"/Range[2]").decode()
    assert issue.value == "Exclusive"
    assert "Availability" in issue.message


def test_managed_without_rms_is_a_warning():
    data = edited(b"<rms:Mode>unmanaged<", b"<rms:Mode>managed<")
    (warning,) = codec.read(data).warnings
    assert "RMS" in warning.message


def test_issue_str_names_line_path_and_value():
    issue = refused(edited(b"<rms:UpperBound>255555<", b"<rms:UpperBound>225555<")).errors[0]
    text = str(issue)
    assert text.startswith("error: line 29, /RMSFUSMetadata/")
    assert "'231231..225555'" in text


def test_schema_files_are_valid_and_describe_both_namespaces():
    for name, ns in (("rms.xsd", RMS), ("rms12.xsd", RMS12)):
        tree = etree.parse(str(codec.SCHEMA_DIR / name))
        assert tree.getroot().get("targetNamespace") == ns.value
        etree.XMLSchema(tree)
    core = etree.parse(str(codec.SCHEMA_DIR / "rms-fus-metadata.xsd")).getroot()
    assert core.get("targetNamespace") is None


def test_datetime_offsets_survive_as_instants():
    doc = codec.parse(RMS_DOC)
    tz = timezone(timedelta(hours=-9, minutes=-30))
    start = datetime(2030, 5, 1, 8, 0, tzinfo=tz)
    fu = doc.firmware_upgrade
    changed = m.RMSFUSMetadata(
        doc.mode,
        doc.ce_manufacturer,
        m.FirmwareUpgrade(
            fu.software_version,
            fu.target_devices,
            fu.software_package_info,
            m.ValidityTimeRange(start, start + timedelta(microseconds=1)),
        ),
    )
    out = codec.write(changed)
    assert b"2030-05-01T08:00:00-09:30" in out
    assert codec.parse(out) == changed
