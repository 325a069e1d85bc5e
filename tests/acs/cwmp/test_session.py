"""The pure session state machine, driven with real envelopes and a JSON store between POSTs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acs.cwmp import messages as m
from acs.cwmp import session as s
from acs.cwmp.codec import CWMP_1_0, CWMP_1_2, CWMP_1_4, Envelope, parse_envelope, write_envelope
from acs.cwmp.faults import FaultCode

from .golden_writes import TRACES
from .strategies import acs_requests

INFORM_1_0 = (TRACES / "inform-bootstrap-boot-1-0.xml").read_bytes()
GPV = m.GetParameterValues(("Device.DeviceInfo.SoftwareVersion",))
DOWNLOAD = m.Download("fw-1", "1 Firmware Upgrade Image", "https://fus.example.net/fw.bin")


class Box:
    """Plays the HTTP layer: the state goes through JSON between POSTs, as if stored in a DB."""

    def __init__(self, state: s.SessionState) -> None:
        self.stored = json.dumps(state.to_dict())
        self.events: list[s.SessionEvent] = []

    @property
    def state(self) -> s.SessionState:
        return s.SessionState.from_dict(json.loads(self.stored))

    def post(self, body: bytes) -> Envelope | None:
        step = s.handle(self.state, parse_envelope(body))
        self.stored = json.dumps(step.state.to_dict())
        self.events = list(step.events)
        return None if step.response is None else parse_envelope(step.response)


def reply(message: m.Message, cwmp_id: str | None, namespace: str = CWMP_1_0) -> bytes:
    return write_envelope(message, cwmp_id=cwmp_id, namespace=namespace)


def inform(namespace: str = CWMP_1_2, cwmp_id: str = "i1") -> bytes:
    message = m.Inform(
        m.DeviceId("Vestra Media", "A4B1E9", "VM-4K200", "SN1"),
        (m.EventStruct("2 PERIODIC"),),
        1,
        datetime(2026, 3, 14, tzinfo=UTC),
        0,
    )
    return write_envelope(message, cwmp_id=cwmp_id, namespace=namespace)


def queued(*messages: m.AcsRequest) -> tuple[s.QueuedRequest, ...]:
    return tuple(s.QueuedRequest(f"task-{n}", msg) for n, msg in enumerate(messages, 1))


def test_complete_session_with_two_acs_requests() -> None:
    box = Box(s.new_session("sess", queue=queued(GPV, DOWNLOAD)))

    answer = box.post(INFORM_1_0)
    assert answer == Envelope(m.InformResponse(1), CWMP_1_0, cwmp_id="1804289383")
    assert len(box.events) == 1
    event = box.events[0]
    assert isinstance(event, s.InformReceived)
    assert event.inform.device_id.serial_number == "VM4K2A0123456789"
    assert event.namespace == CWMP_1_0
    assert box.state.phase is s.Phase.CPE_REQUESTS

    answer = box.post(b"")
    assert answer == Envelope(GPV, CWMP_1_0, cwmp_id="sess.1")
    assert box.events == [s.RpcSent("task-1", "sess.1")]
    assert box.state.phase is s.Phase.ACS_REQUESTS

    gpv_response = m.GetParameterValuesResponse(
        (m.ParameterValue("Device.DeviceInfo.SoftwareVersion", m.TypedValue("4.2.17-r3")),)
    )
    answer = box.post(reply(gpv_response, "sess.1"))
    assert answer == Envelope(DOWNLOAD, CWMP_1_0, cwmp_id="sess.2")
    assert box.events == [s.RpcResponse("task-1", gpv_response), s.RpcSent("task-2", "sess.2")]

    download_response = m.DownloadResponse(1)
    assert box.post(reply(download_response, "sess.2")) is None  # HTTP 204
    assert box.events == [s.RpcResponse("task-2", download_response), s.SessionClosed()]
    assert box.state.phase is s.Phase.CLOSED


def test_session_without_anything_to_do_closes_on_the_empty_post() -> None:
    box = Box(s.new_session("sess"))
    box.post(inform())
    assert box.post(b"") is None
    assert box.events == [s.SessionClosed()]


def test_empty_soap_body_counts_as_empty_post() -> None:
    box = Box(s.new_session("sess", queue=queued(GPV)))
    box.post(inform())
    empty = (TRACES / "empty-body-no-more-requests-1-0.xml").read_bytes()
    answer = box.post(empty)
    assert answer is not None
    assert answer.message == GPV


def test_cpe_requests_are_answered_before_acs_requests() -> None:
    box = Box(s.new_session("sess", queue=queued(GPV)))
    box.post(INFORM_1_0)

    transfer_complete = (TRACES / "transfer-complete-fault-1-4.xml").read_bytes()
    answer = box.post(transfer_complete)
    assert answer == Envelope(m.TransferCompleteResponse(), CWMP_1_0, cwmp_id="tc-2")
    assert len(box.events) == 1
    event = box.events[0]
    assert isinstance(event, s.CpeRequestReceived)
    assert isinstance(event.request, m.TransferComplete)
    assert event.request.fault.fault_code == FaultCode.FILE_TRANSFER_FAILURE

    answer = box.post((TRACES / "request-download-1-2.xml").read_bytes())
    assert answer == Envelope(m.RequestDownloadResponse(), CWMP_1_0, cwmp_id="rd-1")

    answer = box.post(reply(m.GetRPCMethods(), "g-1"))
    assert answer is not None
    assert answer.message == m.GetRPCMethodsResponse(
        ("Inform", "GetRPCMethods", "TransferComplete", "RequestDownload")
    )

    answer = box.post(b"")
    assert answer is not None
    assert answer.message == GPV


def test_get_rpc_methods_lists_autonomous_transfer_complete_from_1_1_on() -> None:
    box = Box(s.new_session("sess"))
    box.post(inform(CWMP_1_2))
    answer = box.post(reply(m.GetRPCMethods(), "g-1", CWMP_1_2))
    assert answer is not None
    assert answer.message == m.GetRPCMethodsResponse(s.ACS_METHODS)
    assert box.post((TRACES / "autonomous-transfer-complete-1-1.xml").read_bytes()) == Envelope(
        m.AutonomousTransferCompleteResponse(), CWMP_1_2, cwmp_id="atc-9"
    )


def test_answers_in_the_namespace_of_the_inform() -> None:
    box = Box(s.new_session("sess", queue=queued(m.Reboot("r"))))
    assert box.post(inform(CWMP_1_4)) == Envelope(m.InformResponse(1), CWMP_1_4, cwmp_id="i1")
    answer = box.post(b"")
    assert answer == Envelope(m.Reboot("r"), CWMP_1_4, cwmp_id="sess.1")


def test_fault_for_a_request_and_the_session_goes_on() -> None:
    spv = m.SetParameterValues(
        (m.ParameterValue("Device.DeviceInfo.SerialNumber", m.TypedValue("x")),), "k"
    )
    box = Box(s.new_session("sess", queue=queued(spv, m.Reboot())))
    box.post(inform())
    box.post(b"")
    fault = (
        (TRACES / "set-parameter-values-fault-1-2.xml").read_bytes().replace(b">s1.2<", b">sess.1<")
    )
    answer = box.post(fault)
    assert answer is not None
    assert answer.message == m.Reboot()
    rpc_fault = box.events[0]
    assert isinstance(rpc_fault, s.RpcFault)
    assert rpc_fault.request_id == "task-1"
    assert rpc_fault.fault.fault_code == 9003
    assert len(rpc_fault.fault.set_parameter_values_faults) == 2


def test_response_without_cwmp_id_is_matched_to_the_request_in_flight() -> None:
    box = Box(s.new_session("sess", queue=queued(m.Reboot())))
    box.post(inform())
    box.post(b"")
    assert box.post(reply(m.RebootResponse(), None, CWMP_1_2)) is None
    assert box.events == [s.RpcResponse("task-1", m.RebootResponse()), s.SessionClosed()]


def test_response_with_another_cwmp_id_ends_the_session() -> None:
    box = Box(s.new_session("sess", queue=queued(m.Reboot(), m.FactoryReset())))
    box.post(inform())
    box.post(b"")
    assert box.post(reply(m.RebootResponse(), "other", CWMP_1_2)) is None
    assert box.events == [
        s.ProtocolViolation("cwmp:ID 'other' does not match request 'sess.1'"),
        s.RpcAbandoned("task-1", "cwmp:ID 'other' does not match request 'sess.1'"),
        s.SessionClosed(),
    ]
    assert box.state.phase is s.Phase.CLOSED
    assert box.state.queue == queued(m.Reboot(), m.FactoryReset())[1:]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (reply(m.FactoryResetResponse(), "sess.1", CWMP_1_2), "expected RebootResponse, "),
        (b"", "empty POST instead of RebootResponse"),
        (inform(), "expected RebootResponse, received Inform"),
    ],
)
def test_wrong_answer_to_a_request_abandons_it(body: bytes, detail: str) -> None:
    box = Box(s.new_session("sess", queue=queued(m.Reboot())))
    box.post(inform())
    box.post(b"")
    assert box.post(body) is None
    violation, abandoned, closed = box.events
    assert isinstance(violation, s.ProtocolViolation)
    assert detail in violation.detail
    assert isinstance(abandoned, s.RpcAbandoned)
    assert abandoned.request_id == "task-1"
    assert closed == s.SessionClosed()


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "expected Inform, received an empty POST"),
        (reply(m.TransferComplete("k", m.TransferFault(), None, None), "t"), "received Transfer"),
        (reply(m.RebootResponse(), "x"), "expected Inform, received RebootResponse"),
    ],
)
def test_anything_but_inform_first_ends_the_session(body: bytes, detail: str) -> None:
    box = Box(s.new_session("sess", queue=queued(GPV)))
    assert box.post(body) is None
    violation, closed = box.events
    assert isinstance(violation, s.ProtocolViolation)
    assert detail in violation.detail
    assert closed == s.SessionClosed()


def test_second_inform_and_stray_responses_in_cpe_phase_end_the_session() -> None:
    for stray in (inform(cwmp_id="i2"), reply(m.RebootResponse(), "x", CWMP_1_2)):
        box = Box(s.new_session("sess"))
        box.post(inform())
        assert box.post(stray) is None
        assert isinstance(box.events[0], s.ProtocolViolation)
        assert box.events[-1] == s.SessionClosed()


@pytest.mark.parametrize("phase_posts", [0, 1, 2])
def test_unknown_method_is_answered_with_fault_8000_in_any_phase(phase_posts: int) -> None:
    box = Box(s.new_session("sess", queue=queued(m.Reboot())))
    for body in (inform(), b"")[:phase_posts]:
        box.post(body)
    phase = box.state.phase
    kicked = (TRACES / "kicked-unknown-method-1-0.xml").read_bytes()
    answer = box.post(kicked)
    assert answer is not None
    assert answer.cwmp_id == "k-1"
    assert answer.message == m.Fault(8000, "Method not supported: Kicked")
    assert box.events == [s.MethodNotSupported("Kicked")]
    assert box.state.phase is phase


def test_hold_requests_is_set_and_box_requests_are_deferred() -> None:
    box = Box(s.new_session("sess", queue=queued(GPV), hold_requests=True))
    answer = box.post(inform())
    assert answer == Envelope(m.InformResponse(1), CWMP_1_2, cwmp_id="i1", hold_requests=True)

    request = m.RequestDownload("1 Firmware Upgrade Image")
    answer = box.post(reply(request, "rd", CWMP_1_2))
    assert answer is not None
    assert answer.message == m.Fault(FaultCode.ACS_RETRY_REQUEST, "HoldRequests is in force")
    assert box.events == [s.CpeRequestRefused(request, 8005)]

    answer = box.post(b"")
    assert answer == Envelope(GPV, CWMP_1_2, cwmp_id="sess.1", hold_requests=True)


def test_requests_enqueued_after_the_inform_go_out() -> None:
    box = Box(s.new_session("sess"))
    box.post(inform())
    box.stored = json.dumps(s.enqueue(box.state, *queued(m.ScheduleInform(60, "x"))).to_dict())
    answer = box.post(b"")
    assert answer is not None
    assert answer.message == m.ScheduleInform(60, "x")


def test_abort_reports_the_request_in_flight() -> None:
    state = s.handle(
        s.new_session("sess", queue=queued(m.Reboot())), parse_envelope(inform())
    ).state
    state = s.handle(state, None).state
    step = s.abort(state, "connection dropped")
    assert step.response is None
    assert step.events == (
        s.ProtocolViolation("connection dropped"),
        s.RpcAbandoned("task-1", "connection dropped"),
        s.SessionClosed(),
    )
    assert step.state.in_flight is None


def test_a_new_inform_on_a_closed_session_starts_again() -> None:
    box = Box(s.new_session("sess"))
    box.post(inform())
    box.post(b"")
    assert box.state.phase is s.Phase.CLOSED
    answer = box.post(inform(cwmp_id="again"))
    assert answer == Envelope(m.InformResponse(1), CWMP_1_2, cwmp_id="again")
    assert box.state.phase is s.Phase.CPE_REQUESTS


@settings(max_examples=100, deadline=None)
@given(
    requests=st.lists(acs_requests, max_size=5),
    hold=st.booleans(),
    sent=st.integers(0, 1000),
    phase=st.sampled_from(s.Phase),
)
def test_state_survives_json(
    requests: list[m.AcsRequest], hold: bool, sent: int, phase: s.Phase
) -> None:
    state = s.SessionState(
        session_id="abc",
        phase=phase,
        namespace=CWMP_1_2,
        hold_requests=hold,
        queue=queued(*requests),
        in_flight=s.InFlight("task-0", "abc.1", "Reboot") if sent else None,
        sent=sent,
    )
    assert s.SessionState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


@pytest.mark.parametrize(
    "data",
    [
        {},
        {
            "session_id": "x",
            "phase": "nowhere",
            "namespace": None,
            "hold_requests": False,
            "queue": [],
            "in_flight": None,
            "sent": 0,
        },
        {
            "session_id": "x",
            "phase": "closed",
            "namespace": None,
            "hold_requests": False,
            "queue": [{"request_id": "1", "message": {"_type": "RebootResponse"}}],
            "in_flight": None,
            "sent": 0,
        },
        {
            "session_id": "x",
            "phase": "closed",
            "namespace": None,
            "hold_requests": False,
            "queue": [{"request_id": "1", "message": {"_type": "os.system"}}],
            "in_flight": None,
            "sent": 0,
        },
    ],
)
def test_corrupt_stored_state_is_refused(data: dict) -> None:
    with pytest.raises(ValueError):
        s.SessionState.from_dict(data)


def test_continue_with_sends_a_request_instead_of_closing():
    box = Box(s.new_session("c1"))
    box.post(inform())
    step = s.handle(box.state, None)  # empty POST, empty queue: the machine closes
    assert step.response is None and step.state.phase is s.Phase.CLOSED
    step = s.continue_with(step.state, s.QueuedRequest("t1", GPV))
    sent = parse_envelope(step.response)
    assert sent.message == GPV and sent.cwmp_id == "c1.1"
    assert step.events == (s.RpcSent("t1", "c1.1"),)
    assert step.state.phase is s.Phase.ACS_REQUESTS and step.state.namespace == CWMP_1_2


def test_continue_with_refuses_a_session_that_is_not_cleanly_closed():
    box = Box(s.new_session("c2"))
    with pytest.raises(ValueError, match="cleanly closed"):
        s.continue_with(box.state, s.QueuedRequest("t1", GPV))
    box.post(inform())
    with pytest.raises(ValueError):
        s.continue_with(box.state, s.QueuedRequest("t1", GPV))
