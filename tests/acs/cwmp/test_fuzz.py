"""Whatever bytes arrive, `parse_envelope` returns an envelope (or None) or raises CwmpParseError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acs.cwmp.codec import CwmpParseError, Envelope, parse_envelope, write_envelope

from .golden_writes import TRACES
from .strategies import any_message, cwmp_ids, namespaces

SEEDS = [path.read_bytes() for path in sorted(TRACES.glob("*.xml"))]


def parse_or_refuse(data: bytes) -> None:
    try:
        result = parse_envelope(data)
    except CwmpParseError as exc:
        assert str(exc)
        return
    assert result is None or isinstance(result, Envelope)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        operation = draw(st.sampled_from(("flip", "delete", "insert", "truncate", "duplicate")))
        if operation == "flip":
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "delete":
            end = position + draw(st.integers(1, 16))
            del data[position:end]
        elif operation == "insert":
            data[position:position] = draw(
                st.sampled_from(
                    (b"<", b">", b"&", b"&amp;", b"]]>", b"<x>", b"</x>", b"\x00", b"\xff", b'"')
                )
                | st.binary(max_size=8)
            )
        elif operation == "truncate":
            del data[position:]
        else:
            end = position + draw(st.integers(1, 64))
            data[position:position] = data[position:end]
    return bytes(data)


written = st.builds(
    lambda message, cwmp_id, namespace: write_envelope(
        message, cwmp_id=cwmp_id, namespace=namespace
    ),
    any_message,
    cwmp_ids,
    namespaces,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes(data: bytes) -> None:
    parse_or_refuse(data)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(st.sampled_from(SEEDS) | written))
def test_mutated_envelopes(data: bytes) -> None:
    parse_or_refuse(data)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(SEEDS), st.text(max_size=40))
def test_text_spliced_into_envelopes(seed: bytes, text: str) -> None:
    middle = len(seed) // 2
    parse_or_refuse(seed[:middle] + text.encode("utf-8", "surrogatepass") + seed[middle:])
