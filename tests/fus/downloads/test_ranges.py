"""Range headers and entity tags (pure; no database)."""

import contextlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fus.delivery.ranges import MAX_RANGES, Unsatisfiable, etag_matches, parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("", 100, None),
        ("bytes=0-9", 100, [(0, 9)]),
        ("bytes=90-", 100, [(90, 99)]),
        ("bytes=-10", 100, [(90, 99)]),
        ("bytes=-1000", 100, [(0, 99)]),
        ("bytes=50-1000", 100, [(50, 99)]),
        ("BYTES = 0-0", 100, [(0, 0)]),
        ("bytes=0-9,5-19,20-29", 100, [(0, 29)]),  # overlapping and adjacent ranges merge
        ("bytes=50-59,0-9", 100, [(0, 9), (50, 59)]),  # sorted
        ("bytes=0-9,200-300", 100, [(0, 9)]),  # the unsatisfiable one is dropped
        ("items=0-9", 100, None),  # another unit: ignored
        ("bytes=9-0", 100, None),  # invalid: ignored
        ("bytes=a-b", 100, None),
        ("bytes=-", 100, None),
        ("bytes 0-9", 100, None),
    ],
)
def test_parse_range(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    "header", ["bytes=100-", "bytes=100-200", "bytes=-0", "bytes=100-,200-300"]
)
def test_unsatisfiable(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, 100)


def test_empty_file_has_no_satisfiable_range():
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=0-", 0)


def test_too_many_ranges_are_ignored():
    header = "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in range(MAX_RANGES + 1))
    assert parse_range(header, 1000) is None


@given(
    size=st.integers(min_value=0, max_value=10**12),
    specs=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 10**12)),
            st.one_of(st.none(), st.integers(0, 10**12)),
        ),
        min_size=1,
        max_size=MAX_RANGES,
    ),
)
def test_satisfiable_ranges_are_inside_sorted_and_disjoint(size, specs):
    header = "bytes=" + ",".join(
        f"{'' if a is None else a}-{'' if b is None else b}" for a, b in specs
    )
    try:
        ranges = parse_range(header, size)
    except Unsatisfiable:
        return
    if ranges is None:
        return
    assert ranges
    for first, last in ranges:
        assert 0 <= first <= last < size
    for (_, last), (first, _) in itertools.pairwise(ranges):
        assert first > last + 1


@given(st.text(max_size=200), st.integers(min_value=0, max_value=10**9))
def test_any_header_is_answered_or_refused_cleanly(header, size):
    with contextlib.suppress(Unsatisfiable):
        parse_range(header, size)


def test_etag_comparisons():
    tag = '"abc"'
    assert etag_matches('"abc"', tag, weak=True)
    assert etag_matches('"x", W/"abc"', tag, weak=True)
    assert etag_matches("*", tag, weak=True)
    assert not etag_matches('W/"abc"', tag, weak=False)  # If-Range compares strongly
    assert etag_matches('"abc"', tag, weak=False)
    assert not etag_matches('"abd"', tag, weak=True)
    assert not etag_matches(None, tag, weak=True)
