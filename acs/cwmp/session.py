"""The CWMP session as a pure state machine (TR-069 Amendment 6, section 3.7 and Annex A.3).

One session runs over several HTTP POSTs of one box::

    AWAIT_INFORM --Inform--> CPE_REQUESTS --empty POST--> ACS_REQUESTS --response--> ... --> CLOSED
                  InformResponse   | TransferComplete,        (one request at a time,   (HTTP 204)
                                   | AutonomousTransferComplete, matched by cwmp:ID)
                                   | RequestDownload, GetRPCMethods -> their responses

`handle(state, envelope)` takes the state and what the box POSTed (a parsed `Envelope`, or None for
an empty POST) and returns a `Step`: the new state, the bytes to answer with (None = answer
``204 No Content``, the session is over) and events for the caller ("inform received", "response
for request X", "fault for request X", ...). Nothing here does I/O or reads a clock: the caller
stores the state (`SessionState.to_dict` is JSON-able), so the next POST may be served by another
process, and turns events into database changes.

ACS requests come from a queue the caller gives (`new_session(queue=...)`, `enqueue`); each is sent
alone (MaxEnvelopes 1) with a fresh ``cwmp:ID``, and the box's answer must carry that ID (an answer
without any ID is accepted: some boxes drop it). With ``hold_requests`` the ACS sets
``cwmp:HoldRequests`` on everything it sends, and a box request arriving anyway is refused with
fault 8005 (retry request), so the box keeps it for a later session. Unknown methods are answered
with fault 8000 in any state. A message out of place ends the session (204) with a
`ProtocolViolation` event, and the request in flight, if any, is reported `RpcAbandoned`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from . import messages as m
from .codec import CWMP_1_0, Envelope, write_envelope
from .faults import FaultCode


class Phase(StrEnum):
    AWAIT_INFORM = "await_inform"
    CPE_REQUESTS = "cpe_requests"
    ACS_REQUESTS = "acs_requests"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class QueuedRequest:
    """An ACS request to send, with the caller's id for it (e.g. a task's primary key)."""

    request_id: str
    message: m.AcsRequest


@dataclass(frozen=True, slots=True)
class InFlight:
    """The ACS request sent and not yet answered."""

    request_id: str
    cwmp_id: str
    method: str


@dataclass(frozen=True, slots=True)
class SessionState:
    session_id: str
    phase: Phase = Phase.AWAIT_INFORM
    namespace: str | None = None
    hold_requests: bool = False
    queue: tuple[QueuedRequest, ...] = ()
    in_flight: InFlight | None = None
    sent: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able data; `from_dict` restores an equal state."""
        return {
            "session_id": self.session_id,
            "phase": self.phase.value,
            "namespace": self.namespace,
            "hold_requests": self.hold_requests,
            "queue": [
                {"request_id": item.request_id, "message": m.to_dict(item.message)}
                for item in self.queue
            ],
            "in_flight": None
            if self.in_flight is None
            else {
                "request_id": self.in_flight.request_id,
                "cwmp_id": self.in_flight.cwmp_id,
                "method": self.in_flight.method,
            },
            "sent": self.sent,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionState:
        try:
            in_flight = data["in_flight"]
            queue = tuple(
                QueuedRequest(str(item["request_id"]), _acs_request(m.from_dict(item["message"])))
                for item in data["queue"]
            )
            return cls(
                session_id=str(data["session_id"]),
                phase=Phase(data["phase"]),
                namespace=data["namespace"],
                hold_requests=bool(data["hold_requests"]),
                queue=queue,
                in_flight=None
                if in_flight is None
                else InFlight(
                    str(in_flight["request_id"]),
                    str(in_flight["cwmp_id"]),
                    str(in_flight["method"]),
                ),
                sent=int(data["sent"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a serialised CWMP session: {exc!r}") from None


def _acs_request(message: Any) -> m.AcsRequest:
    if not isinstance(message, m.ACS_REQUEST_TYPES):
        raise ValueError(f"{type(message).__name__} is not an ACS request")
    return message  # type: ignore[no-any-return]


# --- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InformReceived:
    inform: m.Inform
    namespace: str


@dataclass(frozen=True, slots=True)
class CpeRequestReceived:
    """TransferComplete, AutonomousTransferComplete, RequestDownload or GetRPCMethods (answered)."""

    request: m.CpeRequest


@dataclass(frozen=True, slots=True)
class RpcSent:
    request_id: str
    cwmp_id: str


@dataclass(frozen=True, slots=True)
class RpcResponse:
    request_id: str
    response: m.CpeResponse


@dataclass(frozen=True, slots=True)
class RpcFault:
    request_id: str
    fault: m.Fault


@dataclass(frozen=True, slots=True)
class RpcAbandoned:
    """A sent request that got no usable answer before the session ended; send it again later."""

    request_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class CpeRequestRefused:
    """A box request answered with a fault (fault 8005 while HoldRequests is in force)."""

    request: m.CpeRequest
    fault_code: int


@dataclass(frozen=True, slots=True)
class MethodNotSupported:
    name: str


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    detail: str


@dataclass(frozen=True, slots=True)
class SessionClosed:
    pass


SessionEvent = (
    InformReceived
    | CpeRequestReceived
    | RpcSent
    | RpcResponse
    | RpcFault
    | RpcAbandoned
    | CpeRequestRefused
    | MethodNotSupported
    | ProtocolViolation
    | SessionClosed
)


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one POST: new state, answer bytes (None = HTTP 204) and events."""

    state: SessionState
    response: bytes | None
    events: tuple[SessionEvent, ...]


# --- the machine ----------------------------------------------------------------------------------

#: Methods the ACS supports (the answer to the box's GetRPCMethods).
ACS_METHODS = (
    "Inform",
    "GetRPCMethods",
    "TransferComplete",
    "AutonomousTransferComplete",
    "RequestDownload",
)

_CPE_REQUEST_TYPES = (
    m.TransferComplete,
    m.AutonomousTransferComplete,
    m.RequestDownload,
    m.GetRPCMethods,
)


def new_session(
    session_id: str, *, queue: tuple[QueuedRequest, ...] = (), hold_requests: bool = False
) -> SessionState:
    """A session awaiting its Inform. `session_id` prefixes the cwmp:IDs the ACS sends."""
    return SessionState(session_id=session_id, queue=tuple(queue), hold_requests=hold_requests)


def enqueue(state: SessionState, *requests: QueuedRequest) -> SessionState:
    """Append ACS requests; they go out after the box's own requests, in order."""
    return replace(state, queue=state.queue + requests)


def handle(state: SessionState, envelope: Envelope | None) -> Step:
    """Advance the session by one POST (`envelope` None, or with no message, is an empty POST)."""
    message = envelope.message if envelope is not None else None
    if isinstance(message, m.UnknownMethod):
        namespace = state.namespace or (envelope.namespace if envelope else None)
        fault = m.Fault(
            FaultCode.ACS_METHOD_NOT_SUPPORTED,
            f"Method not supported: {message.name}",
        )
        return Step(
            state,
            _write(fault, envelope, namespace, state.hold_requests),
            (MethodNotSupported(message.name),),
        )
    if state.phase in (Phase.AWAIT_INFORM, Phase.CLOSED):
        return _await_inform(state, envelope, message)
    if state.phase is Phase.CPE_REQUESTS:
        return _cpe_requests(state, envelope, message)
    return _acs_requests(state, envelope, message)


def continue_with(state: SessionState, *requests: QueuedRequest) -> Step:
    """Send `requests` after a step that closed the session only because the queue was empty.

    The caller learns of new requests while applying a step's events (e.g. GetParameterValues for
    the names a GetParameterNamesResponse just listed); the box is still waiting for the answer
    to that POST, so instead of the 204 it gets the first of `requests`. Raises ValueError for a
    session that is not cleanly closed (a violation closes with the in-flight request abandoned).
    """
    if state.phase is not Phase.CLOSED or state.in_flight is not None or not requests:
        raise ValueError("continue_with needs a cleanly closed session and at least one request")
    return _next_request(replace(state, queue=state.queue + requests), ())


def abort(state: SessionState, reason: str) -> Step:
    """End the session from outside (time-out, malformed POST, dropped connection)."""
    return _close(state, (), violation=reason)


def _await_inform(
    state: SessionState, envelope: Envelope | None, message: m.Message | None
) -> Step:
    if not isinstance(message, m.Inform) or envelope is None:
        what = "an empty POST" if message is None else type(message).__name__
        return _close(state, (), violation=f"expected Inform, received {what}")
    namespace = envelope.namespace or CWMP_1_0
    state = replace(state, phase=Phase.CPE_REQUESTS, namespace=namespace, in_flight=None)
    response = _write(m.InformResponse(max_envelopes=1), envelope, namespace, state.hold_requests)
    return Step(state, response, (InformReceived(message, namespace),))


def _cpe_requests(
    state: SessionState, envelope: Envelope | None, message: m.Message | None
) -> Step:
    if message is None:
        return _next_request(state, ())
    if isinstance(message, _CPE_REQUEST_TYPES):
        if state.hold_requests:
            fault = m.Fault(FaultCode.ACS_RETRY_REQUEST, "HoldRequests is in force")
            refused = CpeRequestRefused(message, int(fault.fault_code))
            return Step(state, _write(fault, envelope, state.namespace, True), (refused,))
        answer = _answer_cpe_request(message, state.namespace)
        response = _write(answer, envelope, state.namespace, False)
        return Step(state, response, (CpeRequestReceived(message),))
    return _close(state, (), violation=f"unexpected {type(message).__name__} from the box")


def _acs_requests(
    state: SessionState, envelope: Envelope | None, message: m.Message | None
) -> Step:
    in_flight = state.in_flight
    if in_flight is None:  # only reachable from a hand-made state
        return _close(state, (), violation="no request in flight")
    if message is None or envelope is None:
        return _close(state, (), violation=f"empty POST instead of {in_flight.method}Response")
    event: SessionEvent
    if isinstance(message, m.Fault):
        event = RpcFault(in_flight.request_id, message)
    elif type(message).__name__ == in_flight.method + "Response":
        event = RpcResponse(in_flight.request_id, message)  # type: ignore[arg-type]
    else:
        return _close(
            state,
            (),
            violation=f"expected {in_flight.method}Response, received {type(message).__name__}",
        )
    if envelope.cwmp_id is not None and envelope.cwmp_id != in_flight.cwmp_id:
        return _close(
            state,
            (),
            violation=f"cwmp:ID {envelope.cwmp_id!r} does not match request {in_flight.cwmp_id!r}",
        )
    return _next_request(replace(state, in_flight=None), (event,))


def _next_request(state: SessionState, events: tuple[SessionEvent, ...]) -> Step:
    if not state.queue:
        return _close(state, events)
    item, rest = state.queue[0], state.queue[1:]
    number = state.sent + 1
    cwmp_id = f"{state.session_id}.{number}"
    response = write_envelope(
        item.message,
        cwmp_id=cwmp_id,
        namespace=state.namespace or CWMP_1_0,
        hold_requests=state.hold_requests,
    )
    state = replace(
        state,
        phase=Phase.ACS_REQUESTS,
        queue=rest,
        sent=number,
        in_flight=InFlight(item.request_id, cwmp_id, type(item.message).__name__),
    )
    return Step(state, response, (*events, RpcSent(item.request_id, cwmp_id)))


def _close(
    state: SessionState, events: tuple[SessionEvent, ...], *, violation: str | None = None
) -> Step:
    extra: list[SessionEvent] = []
    if violation is not None:
        extra.append(ProtocolViolation(violation))
    if state.in_flight is not None:
        extra.append(RpcAbandoned(state.in_flight.request_id, violation or "session closed"))
    state = replace(state, phase=Phase.CLOSED, in_flight=None)
    return Step(state, None, (*events, *extra, SessionClosed()))


def _answer_cpe_request(message: m.CpeRequest, namespace: str | None) -> m.Message:
    if isinstance(message, m.GetRPCMethods):
        methods = ACS_METHODS
        if namespace == CWMP_1_0:  # AutonomousTransferComplete arrived with CWMP 1.1
            methods = tuple(name for name in methods if name != "AutonomousTransferComplete")
        return m.GetRPCMethodsResponse(methods)
    answer_type = m.ACS_RESPONSE_TYPES[type(message)]
    return answer_type()  # type: ignore[no-any-return]


def _write(
    message: m.Message, envelope: Envelope | None, namespace: str | None, hold_requests: bool
) -> bytes:
    return write_envelope(
        message,
        cwmp_id=envelope.cwmp_id if envelope is not None else None,
        namespace=namespace or CWMP_1_0,
        hold_requests=hold_requests,
    )
