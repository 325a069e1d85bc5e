"""Serving one POST of a CWMP session: the engine between the `/cwmp` view and the database.

The pure state machine (`acs.cwmp.session`) decides what to answer; this module loads and stores
its state (`CwmpSession`, so any web process serves the next POST and a dropped connection resumes
with its cookie), holds the one-session-per-device lock (the unique `CwmpSession.device` row, taken
under the device's row lock), feeds the machine one task at a time from the device's queue, and
turns its events into registry and task changes. Each POST is one transaction: a refused or
malformed POST changes nothing but the session it ends.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from acs.choices import DeviceEventKind
from acs.conf import acs_settings
from acs.cwmp import messages as m
from acs.cwmp import session as s
from acs.cwmp.codec import CwmpParseError, Envelope, parse_envelope
from acs.models import CwmpSession, Device
from acs.services import auth, store
from acs.services import devices as registry
from acs.services import tasks as task_services

log = logging.getLogger("acs.cwmp")

COOKIE = "cwmp_session"
XML = "text/xml; charset=utf-8"


@dataclass(frozen=True, slots=True)
class CwmpRequest:
    body: bytes
    cookie: str
    authorization: str
    method: str = "POST"
    path: str = "/cwmp"
    query: str = ""
    secure: bool = False
    remote_addr: str | None = None


@dataclass(frozen=True, slots=True)
class CwmpAnswer:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    set_cookie: str | None = None
    clear_cookie: bool = False


def _refusal(refusal: auth.Refusal) -> CwmpAnswer:
    return CwmpAnswer(refusal.status, refusal.body, headers=refusal.headers, clear_cookie=True)


def _busy(reason: str) -> CwmpAnswer:
    retry = acs_settings().retry_after
    return CwmpAnswer(
        503,
        f"{reason}; retry later.\n".encode(),
        headers=(("Retry-After", str(retry)),),
        clear_cookie=True,
    )


def serve(request: CwmpRequest, *, now: datetime | None = None) -> CwmpAnswer:
    """Answer one POST to /cwmp."""
    now = now or timezone.now()
    conf = acs_settings()
    parse_error: CwmpParseError | None = None
    envelope: Envelope | None = None
    try:
        envelope = parse_envelope(request.body)
    except CwmpParseError as exc:
        parse_error = exc
    message = envelope.message if envelope is not None else None
    fresh = now - conf.session_timeout

    principal: auth.Principal | None = None
    if request.cookie:
        if not isinstance(message, m.Inform):
            answer = _continue(request.cookie, envelope, parse_error, request, now=now)
            if answer is not None:
                return answer
        else:
            device_id = next(
                iter(
                    CwmpSession.objects.filter(token=request.cookie, last_seen__gte=fresh)
                    .order_by()
                    .values_list("device_id", flat=True)[:1]
                ),
                None,
            )
            if device_id is not None:
                principal = auth.Principal("session", device_id)
    if principal is None:
        result = auth.authenticate(
            auth.AuthRequest(
                authorization=request.authorization,
                method=request.method,
                path=request.path,
                query=request.query,
                secure=request.secure,
                remote_addr=request.remote_addr,
            )
        )
        if isinstance(result, auth.Refusal):
            return _refusal(result)
        principal = result
        if not isinstance(message, m.Inform):  # an Inform records it in its own transaction
            refused = auth.record_nonce(principal, request.remote_addr)
            if refused is not None:
                return _refusal(refused)

    if parse_error is not None:
        log.info("malformed CWMP POST from %s: %s", request.remote_addr or "?", parse_error)
        return _malformed(parse_error)
    if isinstance(message, m.Inform):
        assert envelope is not None
        return _start(principal, envelope, request, now=now)
    if isinstance(message, m.UnknownMethod):
        step = s.handle(s.new_session("none"), envelope)
        return CwmpAnswer(200, step.response or b"", XML)
    log.info(
        "CWMP POST without a session from %s: expected an Inform, received %s",
        request.remote_addr or "?",
        "an empty POST" if message is None else type(message).__name__,
    )
    return CwmpAnswer(204, clear_cookie=True)


def _malformed(exc: CwmpParseError) -> CwmpAnswer:
    return CwmpAnswer(400, f"Malformed CWMP message: {exc}\n".encode(), clear_cookie=True)


class _SessionCounter:
    """This process's view of the number of live sessions: counted in the database at most every
    CWMP_SESSION_COUNT_TTL seconds, plus the sessions this process started since (the limit is a
    load shedder, not an exact quota)."""

    def __init__(self) -> None:
        self.counted_at: datetime | None = None
        self.count = 0
        self.started = 0


_counter = _SessionCounter()


def _live_sessions(cutoff: datetime, now: datetime) -> int:
    ttl = acs_settings().session_count_ttl
    stale = _counter.counted_at is None or (now - _counter.counted_at).total_seconds() >= ttl
    if stale:
        _counter.count = CwmpSession.objects.filter(last_seen__gte=cutoff).count()
        _counter.counted_at = now
        _counter.started = 0
    return _counter.count + _counter.started


# --- starting a session -----------------------------------------------------------------------------


def _start(
    principal: auth.Principal, envelope: Envelope, request: CwmpRequest, *, now: datetime
) -> CwmpAnswer:
    conf = acs_settings()
    inform = envelope.message
    assert isinstance(inform, m.Inform)
    try:
        identity = registry.identity_of(inform)
    except registry.IdentityError as exc:
        return CwmpAnswer(400, f"Unusable Inform: {exc}\n".encode(), clear_cookie=True)
    cutoff = now - conf.session_timeout
    if principal.kind != "session":
        live_count = _live_sessions(cutoff, now)
        if live_count >= conf.max_concurrent_sessions:
            log.warning(
                "CWMP session refused: %d sessions in progress (CWMP_MAX_CONCURRENT_SESSIONS=%d)",
                live_count,
                conf.max_concurrent_sessions,
            )
            return _busy("Too many CWMP sessions in progress")

    for _attempt in range(2):
        try:
            return _start_locked(principal, envelope, request, identity, now=now)
        except registry.RegistrationRace:
            # A concurrent first Inform of this DeviceId registered it first: start over, the
            # row exists now (and may carry that Inform's live session).
            continue
    raise RuntimeError("registration raced twice")  # pragma: no cover - one winner per DeviceId


def _start_locked(
    principal: auth.Principal,
    envelope: Envelope,
    request: CwmpRequest,
    identity: registry.Identity,
    *,
    now: datetime,
) -> CwmpAnswer:
    """The Inform's transaction: lock the device (and read its session), check, record, open."""
    conf = acs_settings()
    inform = envelope.message
    assert isinstance(inform, m.Inform)
    cutoff = now - conf.session_timeout
    with transaction.atomic():
        # A digest answer's nonce count first: a replayed Inform changes nothing.
        replay = auth.record_nonce(principal, request.remote_addr)
        if replay is not None:
            return _refusal(replay)
        device, live = store.lock_device(identity.lookup())
        refusal = _check_principal(principal, device, identity, request)
        if refusal is not None:
            return refusal
        new = device is None
        if device is None:
            device = registry.new_device(identity)
        elif live is not None:
            if live.last_seen >= cutoff and live.token != request.cookie:
                log.info("second concurrent CWMP session of %s refused", device)
                registry.record_device_event(
                    device,
                    DeviceEventKind.PROTOCOL,
                    "Second concurrent session refused (one session per device).",
                    ip=request.remote_addr,
                )
                return _busy("This device already has a CWMP session in progress")
            existing = CwmpSession.objects.select_related("device").get(pk=live.pk)
            _close_session(existing, s.abort(_state(existing), "replaced by a new Inform"), now=now)
        token = secrets.token_urlsafe(24)
        state = s.new_session(secrets.token_hex(4))
        step = s.handle(state, envelope)
        registry.apply_inform(
            device,
            inform,
            namespace=envelope.namespace or "",
            ip_address=request.remote_addr,
            now=now,
            new=new,
            defer_write=True,  # written with the session row below (one statement)
        )
        task_services.check_software_version(device, now=now, final=True)
        if principal.kind == "bootstrap":
            task_services.provision_credentials(device, now=now)
        task_services.provision_connection_request_credentials(device, now=now)
        transcript: list[dict] = []
        if conf.transcripts > 0:
            _append(transcript, "in", request.body, now)
            _append(transcript, "out", step.response or b"", now)
        _counter.started += 1
        store.insert_session(
            token=token,
            device=device,
            state=_stored(step.state, store.prune_due(device.sessions_started, conf.transcripts)),
            transcript=transcript,
            now=now,
            ip_address=request.remote_addr,
        )
    return CwmpAnswer(200, step.response or b"", XML, set_cookie=token)


def _check_principal(
    principal: auth.Principal,
    device: Device | None,
    identity: registry.Identity,
    request: CwmpRequest,
) -> CwmpAnswer | None:
    """May this principal speak for this DeviceId? Refusals look like any other 401."""
    reason = None
    if principal.kind in ("device", "session"):
        if device is None or device.pk != principal.device_id:
            reason = f"credentials of another device used for {identity.serial_number!r}"
    elif principal.kind == "bootstrap" and device is not None and device.has_credentials:
        reason = f"bootstrap credentials used for {device}, which has its own"
    if reason is None and device is None and not registry.unknown_device_allowed(identity):
        reason = (
            f"unknown device {identity.oui}-{identity.product_class}-{identity.serial_number} "
            f"refused by CWMP_UNKNOWN_DEVICES={acs_settings().unknown_devices}"
        )
    if reason is None:
        return None
    log.info("CWMP Inform refused from %s: %s", request.remote_addr or "?", reason)
    if acs_settings().auth == "none":
        return CwmpAnswer(403, b"Refused.\n", clear_cookie=True)
    return _refusal(auth.challenge())


# --- continuing a session -------------------------------------------------------------------------


def _state(session: CwmpSession) -> s.SessionState:
    return s.SessionState.from_dict(session.state)


#: Stored beside the machine's state: whether closing this session prunes the device's transcripts.
PRUNE_KEY = "prune_transcripts"


def _stored(state: s.SessionState, prune: bool) -> dict:
    return {**state.to_dict(), PRUNE_KEY: prune}


#: Events after which the device's queue may hold a task it did not hold when the POST began
#: (follow-ups, retries, RequestDownload's Download, tasks queued by signal receivers).
_QUIET_EVENTS = (s.SessionClosed, s.InformReceived, s.MethodNotSupported)


def _continue(
    token: str,
    envelope: Envelope | None,
    parse_error: CwmpParseError | None,
    request: CwmpRequest,
    *,
    now: datetime,
) -> CwmpAnswer | None:
    """The next POST of a live session (None when the cookie names no live session)."""
    fresh = now - acs_settings().session_timeout
    with transaction.atomic():
        session, queued = store.lock_session(token, fresh)
        if session is None:
            return None
        prune = bool(session.state.get(PRUNE_KEY, True))
        if parse_error is not None:
            log.info("malformed CWMP POST from %s: %s", session.device, parse_error)
            _append(session.transcript, "in", request.body, now)
            _close_session(
                session, s.abort(_state(session), f"malformed POST: {parse_error}"), now=now
            )
            return _malformed(parse_error)
        state = _state(session)
        step = s.handle(state, envelope)
        _apply_events(session, step.events, now=now)
        clean_close = step.response is None and not any(
            isinstance(e, s.ProtocolViolation) for e in step.events
        )
        if clean_close and state.phase in (s.Phase.CPE_REQUESTS, s.Phase.ACS_REQUESTS):
            # The queue is read one task at a time, after the last answer's events are applied,
            # so tasks queued meanwhile (or as their follow-ups) go out in this session. Its head
            # is read only when the session's lock saw a queued task or events may have queued
            # one (a periodic session's empty POST reads nothing more).
            task = None
            if queued or not all(isinstance(e, _QUIET_EVENTS) for e in step.events):
                task = task_services.next_task(session.device, now=now)
            if task is not None:
                request_item = s.QueuedRequest(str(task.pk), task_services.task_message(task))
                step = s.continue_with(step.state, request_item)
                _apply_events(session, step.events, now=now)
        if acs_settings().transcripts > 0:
            _append(session.transcript, "in", request.body, now)
        if step.response is None:
            _close_session(session, step, now=now, already_applied=True)
            return CwmpAnswer(204, clear_cookie=True)
        if acs_settings().transcripts > 0:
            _append(session.transcript, "out", step.response, now)
        session.state = _stored(step.state, prune)
        session.last_seen = now
        store.save_session(session)
    return CwmpAnswer(200, step.response, XML, set_cookie=session.token)


def _apply_events(session: CwmpSession, events: tuple, *, now: datetime) -> list[int]:
    """Turn the machine's events into task and registry changes; returns follow-up task ids.
    The device row is read (`session.device`) only by events that need it."""
    follow: list[int] = []
    for event in events:
        if isinstance(event, s.RpcSent):
            task_services.mark_sent(int(event.request_id), session_token=session.token, now=now)
        elif isinstance(event, s.RpcResponse):
            for message in task_services.complete(int(event.request_id), event.response, now=now):
                task = task_services._create(
                    session.device, message, actor=None, audit=False, kick=False
                )
                follow.append(task.pk)
        elif isinstance(event, s.RpcFault):
            task_services.fault(int(event.request_id), event.fault, now=now)
        elif isinstance(event, s.RpcAbandoned):
            task_services.abandon(int(event.request_id), event.reason, now=now)
        elif isinstance(event, s.CpeRequestReceived):
            request = event.request
            if isinstance(request, m.TransferComplete):
                task_services.transfer_complete(session.device, request, now=now)
            elif isinstance(request, m.AutonomousTransferComplete):
                task_services.autonomous_transfer_complete(session.device, request, now=now)
            elif isinstance(request, m.RequestDownload):
                task_services.request_download(session.device, request, now=now)
        elif isinstance(event, s.ProtocolViolation):
            registry.record_device_event(session.device, DeviceEventKind.PROTOCOL, event.detail)
        elif isinstance(event, s.MethodNotSupported):
            log.info("%s sent unknown method %s (fault 8000)", session.device, event.name)
    return follow


def _close_session(
    session: CwmpSession, step: s.Step, *, now: datetime, already_applied: bool = False
) -> None:
    """End a session: apply the closing events (abandoned RPC, violation), keep its transcript
    (pruning the device's old ones every CWMP_TRANSCRIPTS-th session), release the device's
    lock."""
    if not already_applied:
        _apply_events(session, step.events, now=now)
    violation = next((e.detail for e in step.events if isinstance(e, s.ProtocolViolation)), "")
    store.close_session(
        session,
        now=now,
        outcome=violation or "closed",
        keep=acs_settings().transcripts,
        prune=bool(session.state.get(PRUNE_KEY, True)),
    )


def _append(transcript: list[dict], direction: str, body: bytes, now: datetime) -> None:
    """Add one message to a session transcript, within CWMP_TRANSCRIPT_MAX_BYTES in all."""
    cap = acs_settings().transcript_max_bytes
    used = sum(len(entry.get("body", "")) for entry in transcript)
    room = max(0, cap - used)
    text = body.decode("utf-8", errors="replace")
    entry = {"at": now.isoformat(), "direction": direction, "body": text[:room]}
    if len(text) > room:
        entry["truncated"] = True
    transcript.append(entry)


def expire_sessions(*, now: datetime | None = None) -> int:
    """Close sessions silent for longer than CWMP_SESSION_TIMEOUT (their RPC in flight is queued
    again). Run by beat (`acs.sessions.expire`)."""
    now = now or timezone.now()
    cutoff = now - acs_settings().session_timeout
    closed = 0
    for pk in CwmpSession.objects.filter(last_seen__lt=cutoff).values_list("pk", flat=True):
        with transaction.atomic():
            session = (
                CwmpSession.objects.select_for_update(skip_locked=True)
                .select_related("device")
                .filter(pk=pk, last_seen__lt=cutoff)
                .first()
            )
            if session is None:
                continue
            _close_session(session, s.abort(_state(session), "session timed out"), now=now)
            closed += 1
    return closed
