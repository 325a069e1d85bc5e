"""parse(write(x)) == x for every message type, every namespace and every header combination."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acs.cwmp import messages as m
from acs.cwmp.codec import WRITABLE_TYPES, Envelope, parse_envelope, write_envelope

from .strategies import MESSAGES, any_message, cwmp_ids, namespaces


def test_strategies_cover_every_writable_message() -> None:
    assert set(MESSAGES) == set(WRITABLE_TYPES)
    assert set(MESSAGES) == set(m.MESSAGE_TYPES.values())


@pytest.mark.parametrize("cls", list(MESSAGES), ids=lambda cls: cls.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_round_trip(cls: type, data: st.DataObject) -> None:
    message = data.draw(MESSAGES[cls])
    namespace = data.draw(namespaces)
    cwmp_id = data.draw(cwmp_ids)
    hold, no_more = data.draw(st.booleans()), data.draw(st.booleans())
    written = write_envelope(
        message,
        cwmp_id=cwmp_id,
        namespace=namespace,
        hold_requests=hold,
        no_more_requests=no_more,
    )
    assert parse_envelope(written) == Envelope(message, namespace, cwmp_id, hold, no_more)


@settings(max_examples=200, deadline=None)
@given(message=any_message)
def test_dict_round_trip_through_json(message: m.Message) -> None:
    data = json.loads(json.dumps(m.to_dict(message)))
    assert m.from_dict(data) == message
