"""The targeting engine against the seed's example and a brute-force oracle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fus.metadata import codec
from fus.metadata import model as m
from fus.metadata.identifiers import (
    format_mac,
    parse_mac,
    serial_index_key,
    serial_key,
    serials_equal,
)
from fus.metadata.targeting import (
    CompiledRangeList,
    DeviceIdentity,
    Specificity,
    TargetingIndex,
    applicable_updates,
    range_list_contains,
)
from tests.fus.metadata import strategies as S

SEED_DOC = codec.parse((Path(__file__).with_name("data") / "seed-example-rms.xml").read_bytes())
IN_WINDOW = datetime(2025, 6, 1, tzinfo=UTC)
PROPERTY = settings(max_examples=200, deadline=None)

INC, EXC = m.Availability.INCLUSIVE, m.Availability.EXCLUSIVE
SERIAL, MAC = m.IdentifierType.SERIAL_NUMBER, m.IdentifierType.MAC_ADDRESS


def box(serial: str | None = "123456", mac: str | None = None, **kwargs: str | None):
    fields = {
        "manufacturer_oui": "00D09E",
        "product_class": "STB7100",
        "hardware_version": "hw1",
        "software_version": "1.9.0",
        "serial_number": serial,
        "mac_address": mac,
    }
    fields.update(kwargs)
    return DeviceIdentity(**fields)  # type: ignore[arg-type]


# -- the seed's example (TS 102 542-4 clause 7.2.6) -------------------------------------------

SEED_RANGE_LIST = m.RangeList(
    (
        m.Range("123123", "456456", INC),
        m.Range("231231", "255555", EXC),
        m.Item(("678678", "678688", "678698", "678778"), INC),
    )
)


@pytest.mark.parametrize(
    ("serial", "targeted"),
    [
        ("123122", False),  # below the inclusive range
        ("123123", True),  # its lower bound
        ("200000", True),
        ("231230", True),  # just below the exclusion
        ("231231", False),  # the excluded range, bounds included
        ("240000", False),
        ("255555", False),
        ("255556", True),  # just above the exclusion
        ("456456", True),  # the upper bound
        ("456457", False),
        ("600000", False),  # between the range and the items
        ("678678", True),
        ("678688", True),
        ("678698", True),
        ("678778", True),
        ("678679", False),  # not one of the items
        ("678768", False),
        ("0678678", True),  # leading zeros are not significant
        ("1231230", False),  # longer is larger
    ],
)
def test_seed_example_range_list(serial, targeted):
    assert range_list_contains(SEED_RANGE_LIST, serial_number=serial, mac_address=None) is targeted
    found = applicable_updates(box(serial), [SEED_DOC], at=IN_WINDOW)
    assert bool(found) is targeted


def test_seed_example_document_carries_the_seed_range_list():
    assert SEED_DOC.firmware_upgrade.target_devices.device_groups[0].range_list == SEED_RANGE_LIST


def test_seed_example_named_devices_are_identified():
    (hit,) = applicable_updates(box("678688"), [SEED_DOC], at=IN_WINDOW)
    assert hit.specificity == Specificity(identified=True, software=True, hardware=False)
    assert hit.document is SEED_DOC


# -- identifiers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "notation",
    [
        "00:d0:9e:0a:0b:0c",
        "00-D0-9E-0A-0B-0C",
        "00d0.9e0a.0b0c",
        "00D09E0A0B0C",
        "00:D0:9e:0A:0b:0C",
    ],
)
def test_mac_notations(notation):
    assert parse_mac(notation) == 0x00D09E0A0B0C


@pytest.mark.parametrize(
    "bad",
    [
        "00:d0:9e-0a:0b:0c",  # mixed separators
        "00:d0:9e:0a:0b",  # five octets
        "00:d0:9e:0a:0b:0c:0d",
        "0:d0:9e:0a:0b:0c",
        "00d09e0a0b0g",
        "00d0.9e0a0b0c",
        "00D09E0A0B0C\n",
        "",
        " 00D09E0A0B0C",
    ],
)
def test_malformed_macs(bad):
    with pytest.raises(ValueError):
        parse_mac(bad)


@given(S.mac_ints.flatmap(lambda v: st.tuples(st.just(v), S.mac_notations(v))))
def test_every_notation_of_a_mac_is_the_same_number(pair):
    value, notation = pair
    assert parse_mac(notation) == value
    assert parse_mac(format_mac(value)) == value


@given(st.integers(0, 10**30), st.integers(0, 10**30), st.integers(0, 3), st.integers(0, 3))
def test_all_digit_serials_compare_numerically(a, b, zeros_a, zeros_b):
    sa, sb = "0" * zeros_a + str(a), "0" * zeros_b + str(b)
    assert (serial_key(sa) < serial_key(sb)) == (a < b)
    assert serials_equal(sa, sb) == (a == b)


@given(st.integers(0, 16**8 - 1), st.integers(0, 16**8 - 1), st.booleans())
def test_fixed_width_hex_serials_compare_as_numbers(a, b, lower):
    sa, sb = f"{a:08X}", f"{b:08X}"
    if lower:
        sa, sb = sa.lower(), sb.lower()
    assert (serial_key(sa) < serial_key(sb)) == (a < b)


def test_prefixed_serials_with_growing_counters():
    assert serial_key("SN99") < serial_key("SN100") < serial_key("SN101")
    assert serial_key("SN0099") < serial_key("SN0100")


@given(S.serials, S.serials, S.serials)
def test_serial_order_is_a_total_preorder(a, b, c):
    ka, kb, kc = serial_key(a), serial_key(b), serial_key(c)
    assert ka <= kb or kb <= ka
    if ka <= kb and kb <= kc:
        assert ka <= kc


@given(S.serials, S.serials)
def test_serial_index_key_orders_like_serial_key(a, b):
    assert (serial_index_key(a) < serial_index_key(b)) == (serial_key(a) < serial_key(b))
    assert (serial_index_key(a) == serial_index_key(b)) == (serial_key(a) == serial_key(b))


# -- RangeList against a brute-force oracle ---------------------------------------------------


def oracle_serial_cmp(a: str, b: str) -> int:
    """The ordering rule written out: drop leading zeros, shorter first, then code points."""
    a, b = a.lstrip("0"), b.lstrip("0")
    if len(a) != len(b):
        return -1 if len(a) < len(b) else 1
    return (a > b) - (a < b)


def oracle_entry_contains(entry: m.RangeListEntry, serial: str | None, mac: str | None) -> bool:
    if entry.identifier_type is SERIAL:
        if not serial:
            return False
        if isinstance(entry, m.Range):
            return (
                oracle_serial_cmp(entry.lower_bound, serial) <= 0
                and oracle_serial_cmp(serial, entry.upper_bound) <= 0
            )
        return any(oracle_serial_cmp(i, serial) == 0 for i in entry.item_ids)
    try:
        value = parse_mac(mac) if mac else None
    except ValueError:
        value = None
    if value is None:
        return False
    if isinstance(entry, m.Range):
        return parse_mac(entry.lower_bound) <= value <= parse_mac(entry.upper_bound)
    return any(parse_mac(i) == value for i in entry.item_ids)


def oracle_in_range_list(rl: m.RangeList, serial: str | None, mac: str | None) -> tuple[bool, bool]:
    """(member, named) straight from the rule, entry by entry."""
    known = {SERIAL: bool(serial), MAC: mac is not None and _valid_mac(mac)}
    for entry in rl.entries:
        if entry.availability is EXC and (
            not known[entry.identifier_type] or oracle_entry_contains(entry, serial, mac)
        ):
            return (False, False)
    inclusive = [e for e in rl.entries if e.availability is INC]
    named = any(oracle_entry_contains(e, serial, mac) for e in inclusive)
    return (named or not inclusive, named)


def _valid_mac(mac: str) -> bool:
    try:
        parse_mac(mac)
    except ValueError:
        return False
    return True


@PROPERTY
@given(
    S.range_lists(S.SMALL),
    st.none() | S.SMALL.serials,
    st.none() | S.SMALL.mac_ints.flatmap(S.mac_notations) | st.just("not-a-mac"),
)
def test_range_list_matches_the_oracle(range_list, serial, mac):
    compiled = CompiledRangeList.compile(range_list)
    assert compiled.contains(serial, mac) == oracle_in_range_list(range_list, serial, mac)


@PROPERTY
@given(S.range_lists(), S.serials, S.macs)
def test_range_list_matches_the_oracle_on_wide_values(range_list, serial, mac):
    compiled = CompiledRangeList.compile(range_list)
    assert compiled.contains(serial, mac) == oracle_in_range_list(range_list, serial, mac)


@PROPERTY
@given(S.range_lists(S.SMALL))
def test_range_bounds_and_items_are_members_unless_excluded(range_list):
    compiled = CompiledRangeList.compile(range_list)
    excluded_somewhere = any(e.availability is EXC for e in range_list.entries)
    for entry in range_list.entries:
        if entry.availability is not INC or excluded_somewhere:
            continue
        values = (
            (entry.lower_bound, entry.upper_bound) if isinstance(entry, m.Range) else entry.item_ids
        )
        for value in values:
            serial, mac = (value, None) if entry.identifier_type is SERIAL else (None, value)
            assert compiled.contains(serial, mac) == (True, True)


def test_unknown_identifier_fails_closed():
    excluding_macs = m.RangeList((m.Item(("00:00:00:00:00:01",), EXC, MAC),))
    assert not range_list_contains(excluding_macs, serial_number="5", mac_address=None)
    assert not range_list_contains(excluding_macs, serial_number="5", mac_address="zz")
    assert range_list_contains(excluding_macs, serial_number="5", mac_address="000000000002")
    including_macs = m.RangeList((m.Range("00:00:00:00:00:00", "00:00:00:00:ff:ff", INC, MAC),))
    assert not range_list_contains(including_macs, serial_number="5", mac_address=None)
    assert range_list_contains(including_macs, serial_number=None, mac_address="0000.0000.1234")


def test_serial_and_mac_entries_combine_by_the_same_rule():
    """Serials 100-200 plus a lab box named by MAC, except one serial."""
    rl = m.RangeList(
        (
            m.Range("100", "200", INC, SERIAL),
            m.Item(("aa:bb:cc:dd:ee:ff",), INC, MAC),
            m.Item(("150",), EXC, SERIAL),
        )
    )
    assert range_list_contains(rl, serial_number="120", mac_address=None)
    assert range_list_contains(rl, serial_number="999", mac_address="AABBCCDDEEFF")
    assert not range_list_contains(rl, serial_number="150", mac_address="AABBCCDDEEFF")
    assert not range_list_contains(rl, serial_number="999", mac_address="AABBCCDDEEFE")
    assert not range_list_contains(rl, serial_number=None, mac_address="AABBCCDDEEFF")


def test_only_exclusive_entries_mean_everyone_else():
    rl = m.RangeList((m.Range("10", "20", EXC),))
    assert range_list_contains(rl, serial_number="9", mac_address=None)
    assert not range_list_contains(rl, serial_number="15", mac_address=None)


# -- whole documents against a brute-force oracle ---------------------------------------------


def oracle_target(target: m.Target, device: DeviceIdentity) -> Specificity | None:
    info = target.device_class_info if isinstance(target, m.DeviceGroup) else target
    if info.manufacturer_oui != device.manufacturer_oui.upper():
        return None
    if info.product_class != device.product_class:
        return None
    hardware = getattr(info, "hardware_versions", ())
    software = getattr(info, "software_versions", ())
    if hardware and device.hardware_version not in hardware:
        return None
    if software and device.software_version not in software:
        return None
    named = False
    if isinstance(target, m.DeviceGroup) and target.range_list is not None:
        member, named = oracle_in_range_list(
            target.range_list, device.serial_number, device.mac_address
        )
        if not member:
            return None
    return Specificity(identified=named, software=bool(software), hardware=bool(hardware))


def oracle_applicable(device, docs, at, mode):
    result = {}
    for position, doc in enumerate(docs):
        fu = doc.firmware_upgrade
        if mode is not None and doc.mode is not mode:
            continue
        vtr = fu.validity_time_range
        if vtr is not None and not (vtr.start_time <= at <= vtr.end_time):
            continue
        if fu.software_version == device.software_version:
            continue
        matches = [s for t in fu.target_devices.entries() if (s := oracle_target(t, device))]
        if matches:
            result[position] = max(matches)
    return result


def _rank_tuple(hit):
    s = hit.specificity
    return (not s.identified, not s.software, not s.hardware, hit.priority)


near_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2001, 1, 1), timezones=st.just(UTC)
)


@st.composite
def small_documents(draw):
    doc = draw(S.documents(S.SMALL))
    if draw(st.booleans()):  # a validity window near the probe times, to hit both sides
        start = draw(near_times)
        window = m.ValidityTimeRange(start, start + timedelta(days=draw(st.integers(0, 200))))
        fu = doc.firmware_upgrade
        doc = m.RMSFUSMetadata(
            doc.mode,
            doc.ce_manufacturer,
            m.FirmwareUpgrade(
                fu.software_version, fu.target_devices, fu.software_package_info, window
            ),
        )
    return doc


@settings(max_examples=100, deadline=None)
@given(
    st.lists(small_documents(), max_size=6),
    S.device_identities(S.SMALL),
    near_times,
    st.none() | st.sampled_from(m.Mode),
)
def test_applicable_updates_match_the_oracle(docs, device, at, mode):
    found = TargetingIndex(docs).applicable(device, at=at, mode=mode)
    expected = oracle_applicable(device, docs, at, mode)
    positions = {id(doc.firmware_upgrade): i for i, doc in enumerate(docs)}
    got = {positions[id(hit.upgrade)]: hit.specificity for hit in found}
    assert got == expected
    ranks = [_rank_tuple(hit) for hit in found]
    assert ranks == sorted(ranks)
    for hit in found:
        assert hit.document is docs[positions[id(hit.upgrade)]]
        assert oracle_target(hit.target, device) == hit.specificity


# -- ordering, time, mode, installed version --------------------------------------------------


def _doc(
    targets: m.TargetDevices,
    *,
    version: str = "2.0",
    priority: int | None = None,
    mode: m.Mode = m.Mode.UNMANAGED,
    validity: m.ValidityTimeRange | None = None,
) -> m.RMSFUSMetadata:
    descriptor = (
        None
        if priority is None
        else m.UpdateDescriptor(m.UpdateFlag.AUTOMATIC, m.UpdateMethod.IMMEDIATE, priority)
    )
    return m.RMSFUSMetadata(
        mode,
        m.CEManufacturer("00D09E"),
        m.FirmwareUpgrade(
            version,
            targets,
            m.SoftwarePackageInfo(f"pkg-{version}", 1, update_descriptor=descriptor),
            validity,
        ),
    )


CLASS = m.TargetDevices(device_classes=(m.DeviceClass("00D09E", "STB7100"),))


def test_most_specific_first_then_priority_then_newest():
    general = _doc(CLASS, version="2.0", priority=1)
    for_hardware = _doc(
        m.TargetDevices(
            device_class_hardware_versions=(
                m.DeviceClassHardwareVersion("00D09E", "STB7100", ("hw1",)),
            )
        ),
        version="2.1",
        priority=4,
    )
    from_software = _doc(
        m.TargetDevices(
            device_class_softwares=(m.DeviceClassSoftware("00D09E", "STB7100", ("1.9.0",)),)
        ),
        version="2.2",
    )
    beta = _doc(
        m.TargetDevices(
            device_groups=(
                m.DeviceGroup(
                    m.DeviceClassInfo("00D09E", "STB7100"),
                    m.RangeList((m.Item(("123456",)),)),
                ),
            )
        ),
        version="3.0-beta",
        priority=3,
    )
    urgent = _doc(CLASS, version="2.0.1", priority=1)
    old = m.ValidityTimeRange(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
    new = m.ValidityTimeRange(datetime(2024, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
    older_urgent = _doc(CLASS, version="1.9.9", priority=1, validity=old)
    newer_urgent = _doc(CLASS, version="1.9.10", priority=1, validity=new)
    docs = [general, for_hardware, older_urgent, from_software, urgent, beta, newer_urgent]
    found = applicable_updates(box("123456"), docs, at=IN_WINDOW)
    assert [hit.upgrade.software_version for hit in found] == [
        "3.0-beta",  # named by serial
        "2.2",  # from-software constrained
        "2.1",  # hardware constrained
        "1.9.10",  # class only, priority 1, newest StartTime
        "1.9.9",
        "2.0",  # priority 1, no window, input order
        "2.0.1",
    ]


def test_missing_update_descriptor_sorts_after_priority_4():
    a = _doc(CLASS, version="a")
    b = _doc(CLASS, version="b", priority=4)
    assert [
        h.upgrade.software_version for h in applicable_updates(box(), [a, b], at=IN_WINDOW)
    ] == [
        "b",
        "a",
    ]


def test_validity_window_includes_both_ends():
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)
    doc = _doc(CLASS, validity=m.ValidityTimeRange(start, end))
    tiny = timedelta(microseconds=1)
    for at, expected in [(start - tiny, False), (start, True), (end, True), (end + tiny, False)]:
        assert bool(applicable_updates(box(), [doc], at=at)) is expected


def test_naive_time_is_refused():
    with pytest.raises(ValueError, match="aware"):
        applicable_updates(box(), [_doc(CLASS)], at=datetime(2025, 1, 1))


def test_mode_filter():
    managed, unmanaged = _doc(CLASS, mode=m.Mode.MANAGED), _doc(CLASS, mode=m.Mode.UNMANAGED)
    docs = [managed, unmanaged]
    assert [
        h.document for h in applicable_updates(box(), docs, at=IN_WINDOW, mode=m.Mode.MANAGED)
    ] == [managed]
    assert len(applicable_updates(box(), docs, at=IN_WINDOW)) == 2
    bare = managed.firmware_upgrade
    (hit,) = applicable_updates(box(), [bare], at=IN_WINDOW, mode=m.Mode.UNMANAGED)
    assert hit.document is None


def test_installed_version_is_not_offered_again():
    doc = _doc(CLASS, version="1.9.0")
    assert applicable_updates(box(), [doc], at=IN_WINDOW) == ()
    assert len(applicable_updates(box(), [doc], at=IN_WINDOW, include_installed=True)) == 1


def test_oui_is_case_insensitive_and_product_class_is_exact():
    doc = _doc(CLASS)
    assert applicable_updates(box(manufacturer_oui="00d09e"), [doc], at=IN_WINDOW)
    assert not applicable_updates(box(product_class="stb7100"), [doc], at=IN_WINDOW)
    assert not applicable_updates(box(manufacturer_oui="00D09F"), [doc], at=IN_WINDOW)


def test_unknown_hardware_does_not_match_a_hardware_constraint():
    doc = _doc(
        m.TargetDevices(
            device_class_hardware_versions=(
                m.DeviceClassHardwareVersion("00D09E", "STB7100", ("hw1",)),
            )
        )
    )
    assert applicable_updates(box(hardware_version="hw1"), [doc], at=IN_WINDOW)
    assert not applicable_updates(box(hardware_version=None), [doc], at=IN_WINDOW)
    assert not applicable_updates(box(hardware_version="hw2"), [doc], at=IN_WINDOW)


def test_a_growing_range_list_is_a_staged_rollout():
    """Wave by wave the inclusive range widens; earlier waves stay targeted."""
    population = [str(n) for n in range(1000, 1100)]
    targeted_before: set[str] = set()
    for upper in ("1009", "1049", "1099"):
        wave = _doc(
            m.TargetDevices(
                device_groups=(
                    m.DeviceGroup(
                        m.DeviceClassInfo("00D09E", "STB7100"),
                        m.RangeList((m.Range("1000", upper),)),
                    ),
                )
            )
        )
        index = TargetingIndex([wave])
        targeted = {s for s in population if index.applicable(box(s), at=IN_WINDOW)}
        assert targeted_before <= targeted
        assert len(targeted) == int(upper) - 999
        targeted_before = targeted
