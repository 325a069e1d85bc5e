"""A fleet of simulated boxes in one asyncio process: timers, CWMP sessions, downloads, and the
connection request listener.

No task or thread per box: one timer loop over a heap of due times (boots, periodic Informs,
retries, scheduled Informs, reboots, downloads), a fixed pool of session workers (the concurrency
limit of the shared HTTP client side: one TCP connection per CWMP session, closed at its end as
TR-069 asks), a bounded pool of download tasks, and one HTTP listener for every box's connection
request URL (``<base>/<OUI>-<serial>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import os
import random
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from acs.cwmp import messages as m
from acs.cwmp.codec import CwmpParseError, parse_envelope, write_envelope

from . import udp
from .auth import ClientAuth, DigestServer
from .box import Box
from .download import fetch_firmware
from .http import Connection, HttpError, Request, Response, Url, serve
from .profiles import DeviceSpec

log = logging.getLogger("cpesim")


@dataclass
class FleetConfig:
    """Settings shared by every box of the process (one object, not one per box)."""

    acs_url: str
    connection_request_base: str = "http://127.0.0.1:7548/cr"
    namespace: str = "urn:dslforum-org:cwmp-1-2"
    software_version: str = "1.0.0"
    username: str = ""  # str.format templates: {serial}, {oui}, {product_class}
    password: str = ""
    cr_username: str = "{serial}"
    cr_password: str = "cr-{serial}"  # noqa: S105 - a per-box template, documented
    periodic_interval: int = 3600
    consent_fraction: float = 0.5
    fail_downloads: float = 0.0
    download_fault_codes: tuple[int, ...] = (9010,)
    drop_sessions: float = 0.0
    stall_sessions: float = 0.0
    stall_seconds: float = 60.0
    ignore_connection_requests: float = 0.0
    #: "host:port" every box announces as UDPConnectionRequestAddress (TR-111); empty: none.
    udp_connection_request_address: str = ""
    reboot_seconds: float = 2.0
    time_scale: float = 1.0  # multiplies retry back-off waits (tests use small values)
    http_timeout: float = 30.0
    connect_timeout: float = 10.0
    session_concurrency: int = 100
    download_concurrency: int = 20
    ssl_context: ssl.SSLContext | None = None
    seed: int = 0


@dataclass(frozen=True)
class Group:
    """`count` boxes of one device class, serial numbers counting up from `serial_start`."""

    spec: DeviceSpec
    count: int
    serial_start: int = 1
    serial_format: str = "{:08d}"
    software_version: str | None = None  # default: FleetConfig.software_version


@dataclass
class Stats:
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] += n


class SessionFailed(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Fleet:
    def __init__(self, config: FleetConfig, groups: list[Group]) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.boxes: list[Box] = []
        self.by_key: dict[str, Box] = {}
        for group in groups:
            for i in range(group.count):
                serial = group.serial_format.format(group.serial_start + i)
                box = Box(config, group.spec, serial, len(self.boxes), group.software_version)
                if box.key in self.by_key:
                    raise ValueError(f"two boxes would share the identity {box.key}")
                self.boxes.append(box)
                self.by_key[box.key] = box
        self.stats = Stats()
        self._heap: list[tuple[float, int, str, Box, object]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._ready: asyncio.Queue[Box] = asyncio.Queue()
        self._download_slots = asyncio.Semaphore(config.download_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._cr_auth = DigestServer(realm="cpesim")
        self.server: asyncio.Server | None = None
        self.udp_transport: asyncio.DatagramTransport | None = None
        #: UDP connection requests: boxes by ConnectionRequestUsername (rebuilt on a miss, at
        #: most once a second: the ACS may have changed a box's username), and the (ts, id) of
        #: the last request each box accepted.
        self._by_cr_username: dict[str, Box] = {}
        self._by_cr_username_built = float("-inf")
        self._udp_last: dict[str, tuple[int, str]] = {}
        self._closing = False
        #: Called after every session with (box, ok): tests and the CLI's reporting hook in here.
        self.session_listeners: list = []

    # --- scheduling ------------------------------------------------------------------------------

    def at(self, delay: float, kind: str, box: Box, payload: object = None) -> None:
        heapq.heappush(
            self._heap, (time.monotonic() + max(delay, 0), next(self._seq), kind, box, payload)
        )
        self._wake.set()

    def want_session(self, box: Box) -> None:
        box.wanted = True
        if box.online and not box.queued and not box.in_session:
            box.queued = True
            self._ready.put_nowait(box)

    async def _timer_loop(self) -> None:
        while not self._closing:
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                _, _, kind, box, payload = heapq.heappop(self._heap)
                self._fire(kind, box, payload)
            timeout = (self._heap[0][0] - now) if self._heap else 3600
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    def _fire(self, kind: str, box: Box, payload: object) -> None:
        if kind == "boot":
            install = payload if isinstance(payload, str) else None
            if install:
                box.install(install)
            box.power_on()
            self.stats.add("boots")
            self._schedule_periodic(box, first=True)
            self.want_session(box)
        elif kind == "periodic":
            if payload == box.periodic_token and box.online:
                box.add_event("2 PERIODIC")
                self.want_session(box)
                self._schedule_periodic(box)
        elif kind == "retry":
            if box.online:
                self.want_session(box)
        elif kind == "scheduled":
            assert isinstance(payload, str)
            if box.online:
                box.add_event("3 SCHEDULED")
                box.add_event("M ScheduleInform", payload)
                self.want_session(box)
        elif kind == "download":
            assert isinstance(payload, m.Download)
            self._spawn(self._download(box, payload))

    def _schedule_periodic(self, box: Box, *, first: bool = False) -> None:
        box.periodic_token += 1
        interval = box.periodic_interval()
        if interval is None:
            return
        # Spread the fleet over the interval: each box keeps its own phase.
        delay = interval if not first else (box.index * 7919 % max(interval, 1)) or interval
        self.at(delay, "periodic", box, box.periodic_token)

    def _spawn(self, coroutine) -> None:  # type: ignore[no-untyped-def]
        if self._closing:  # stopping: nothing new may start (stop() would not wait for it)
            coroutine.close()
            return
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- flash: what the boxes keep across restarts of the simulator -----------------------------

    def save_state(self, path: str | os.PathLike) -> None:
        """Write every box's flash (`Box.flash`) to `path` atomically (JSON)."""
        target = Path(path)
        state = {"version": 1, "boxes": {box.key: box.flash() for box in self.boxes}}
        partial = target.with_name(target.name + ".part")
        partial.write_text(json.dumps(state, sort_keys=True))
        os.replace(partial, target)

    def load_state(self, path: str | os.PathLike) -> int:
        """Restore the boxes' flash from `path` (before `start`); boxes it does not name start as
        new. Returns how many boxes were restored; ValueError naming the file if it is not a
        state file."""
        try:
            state = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable cpesim state file ({exc})") from None
        if not isinstance(state, dict):
            state = {}
        boxes = state.get("boxes")
        if state.get("version") != 1 or not isinstance(boxes, dict):
            raise ValueError(f"{path}: not a cpesim state file (version 1 with 'boxes')")
        restored = 0
        for key, flash in boxes.items():
            box = self.by_key.get(key)
            if box is not None:
                box.restore(flash)
                restored += 1
        return restored

    # --- running ---------------------------------------------------------------------------------

    async def start(
        self,
        *,
        listen: tuple[str, int] | None = None,
        ramp_seconds: float = 0.0,
        udp_listen: tuple[str, int] | None = None,
    ) -> None:
        """Start the listeners (HTTP connection requests; UDP ones with `udp_listen`), the timer
        loop and the workers, and power the boxes on (spread over `ramp_seconds`)."""
        if listen is not None:
            self.server = await serve(self._connection_request, listen[0], listen[1])
        if udp_listen is not None:
            self.udp_transport = await udp.listen(
                udp_listen[0],
                udp_listen[1],
                self._udp_connection_request,
                lambda _reason: self.stats.add("udp_connection_requests_invalid"),
            )
        self._spawn(self._timer_loop())
        for _ in range(self.config.session_concurrency):
            self._spawn(self._worker())
        count = len(self.boxes)
        for i, box in enumerate(self.boxes):
            self.at(ramp_seconds * i / max(count, 1), "boot", box)

    async def stop(self) -> None:
        self._closing = True
        self._wake.set()
        if self.server is not None:
            self.server.close()
        if self.udp_transport is not None:
            self.udp_transport.close()
        # Until none is left, cancelling again every second what still runs: a task cancelled
        # mid-way may have started another, and a cancellation can be lost (Python 3.11's
        # asyncio.wait_for, in our code or a library's, returns a result that arrives with it).
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            done, _ = await asyncio.wait(tasks, timeout=1.0)
            for task in done:  # retrieved, so that none is logged as "never retrieved"
                if not task.cancelled() and task.exception() is not None:
                    log.debug("task ended while stopping: %r", task.exception())
            self._tasks.difference_update(done)
        if self.server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self.server.wait_closed()

    async def _worker(self) -> None:
        while not self._closing:
            box = await self._ready.get()
            box.queued = False
            if not box.online or box.in_session:
                continue
            box.in_session = True
            box.wanted = False
            ok = False
            try:
                ok = await self.run_session(box)
            except Exception:  # a bug must not kill the worker; it is logged and counted
                log.exception("session of %s crashed", box.key)
                self.stats.add("session_crashes")
                box.session_failed()
            finally:
                box.in_session = False
            for listener in self.session_listeners:
                listener(box, ok)
            if box.wanted and box.online:
                self.want_session(box)

    # --- one CWMP session ------------------------------------------------------------------------

    async def run_session(self, box: Box) -> bool:
        """One session from Inform to 204. Returns False (and schedules the retry) on failure."""
        try:
            await self._session(box)
        except SessionFailed as failure:
            box.session_failed()
            self.stats.add("sessions_failed")
            delay = failure.retry_after
            if delay is None:
                delay = box.retry_delay(self.rng.random())
            log.debug("session of %s failed (%s); retry in %.1f s", box.key, failure, delay)
            if not self._closing:
                self.at(delay, "retry", box)
            self._after_session(box)
            return False
        self.stats.add("sessions_ok")
        self._after_session(box)
        return True

    async def _session(self, box: Box) -> None:
        config = self.config
        inform, events = box.build_inform()
        namespace = box.namespace()
        try:
            url = Url.parse(box.acs_url())
        except ValueError as exc:
            raise SessionFailed(str(exc)) from None
        username, password = box.credentials()
        session = _HttpSession(url, ClientAuth(username, password) if username else None, config)
        misbehaviour = self._misbehaviour()
        try:
            response = await session.post(
                write_envelope(inform, cwmp_id="1", namespace=namespace), request=True, first=True
            )
            envelope = _envelope(response)
            if envelope is None or not isinstance(envelope.message, m.InformResponse):
                raise SessionFailed(f"expected InformResponse, got {_what(envelope)}")
            box.inform_delivered(events)
            self.stats.add("informs")
            hold = envelope.hold_requests
            if misbehaviour == "drop":
                self.stats.add("dropped_on_purpose")
                session.abort()
                raise SessionFailed("connection dropped on purpose (--drop-sessions)")
            ids = itertools.count(2)
            if box.transfer is not None and not hold:
                response = await session.post(
                    write_envelope(box.transfer, cwmp_id=str(next(ids)), namespace=namespace),
                    request=True,
                )
                envelope = _envelope(response)
                message = envelope.message if envelope else None
                if isinstance(message, m.TransferCompleteResponse):
                    box.transfer_delivered()
                    self.stats.add("transfer_completes")
                elif isinstance(message, m.Fault):
                    # Kept for a later session (8005: retry request).
                    self.at(box.retry_delay(self.rng.random()), "retry", box)
                else:
                    raise SessionFailed(f"expected TransferCompleteResponse, got {_what(envelope)}")
            elif box.transfer is not None:
                # HoldRequests: the TransferComplete waits for a later session.
                self.at(box.retry_delay(self.rng.random()), "retry", box)
            response = await session.post(b"")
            while True:
                if response.status == 204 or not response.body.strip():
                    if response.status not in (200, 204):
                        raise SessionFailed(f"HTTP {response.status} to an empty POST or answer")
                    return
                envelope = _envelope(response)
                if envelope is None or envelope.message is None:
                    return
                answer = box.handle_rpc(envelope.message)
                self.stats.add("rpcs")
                if misbehaviour == "stall":
                    self.stats.add("stalled_on_purpose")
                    await asyncio.sleep(config.stall_seconds)
                    session.abort()
                    raise SessionFailed("stalled on purpose (--stall-sessions)")
                response = await session.post(
                    write_envelope(answer, cwmp_id=envelope.cwmp_id, namespace=namespace)
                )
        except HttpError as exc:
            raise SessionFailed(str(exc)) from None
        finally:
            await session.close()

    def _misbehaviour(self) -> str | None:
        roll = self.rng.random()
        if roll < self.config.drop_sessions:
            return "drop"
        if roll < self.config.drop_sessions + self.config.stall_sessions:
            return "stall"
        return None

    def _after_session(self, box: Box) -> None:
        after = box.take_after()
        if after.factory_reset:
            box.online = False
            box.factory_reset()
            self.at(self.config.reboot_seconds, "boot", box)
            return
        if after.reboot is not None:
            box.online = False
            box.add_event("M Reboot", after.reboot)
            self.at(self.config.reboot_seconds, "boot", box)
        for delay, key in after.schedule:
            self.at(delay, "scheduled", box, key)
        for download in after.downloads:
            box.downloads_queued += 1
            self.at(download.delay_seconds, "download", box, download)
        if after.bootstrap:
            box.bootstrapped = False
            box.add_event("0 BOOTSTRAP")
            self.want_session(box)
        if after.periodic_changed and after.reboot is None:
            self._schedule_periodic(box, first=False)

    # --- downloads -------------------------------------------------------------------------------

    async def _download(self, box: Box, request: m.Download) -> None:
        config = self.config
        async with self._download_slots:
            start = datetime.now(UTC).replace(microsecond=0)
            if self.rng.random() < config.fail_downloads:
                code = self.rng.choice(config.download_fault_codes)
                outcome_code, text, version = code, "simulated failure (--fail-downloads)", ""
            else:
                outcome = await fetch_firmware(
                    request.url,
                    oui=box.spec.oui,
                    product_class=box.spec.product_class,
                    username=request.username,
                    password=request.password,
                    file_size=request.file_size,
                    ssl_context=config.ssl_context,
                    connect_timeout=config.connect_timeout,
                )
                outcome_code, text, version = (
                    outcome.fault_code,
                    outcome.fault_string,
                    outcome.software_version,
                )
            complete = datetime.now(UTC).replace(microsecond=0)
        box.downloads_queued -= 1
        box.transfer = m.TransferComplete(
            request.command_key, m.TransferFault(outcome_code, text), start, complete
        )
        box.add_event("7 TRANSFER COMPLETE")
        box.add_event("M Download", request.command_key)
        if outcome_code == 0:
            self.stats.add("downloads_ok")
            # Apply: the box reboots into the new image and reports BOOT + TRANSFER COMPLETE.
            box.online = False
            self.at(config.reboot_seconds, "boot", box, version)
        else:
            self.stats.add("downloads_failed")
            log.info("download for %s failed: %s %s", box.key, outcome_code, text)
            self.want_session(box)

    # --- connection requests ---------------------------------------------------------------------

    async def _connection_request(
        self, request: Request
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        prefix = Url.parse(self.config.connection_request_base).target.rstrip("/") + "/"
        path = request.target.split("?", 1)[0]
        box = self.by_key.get(path[len(prefix) :]) if path.startswith(prefix) else None
        if box is None:
            return 404, [], b""
        if request.method not in ("GET", "HEAD"):
            return 405, [("Allow", "GET")], b""
        username, password = box.cr_credentials()
        if username or password:
            verdict = self._cr_auth.verify(
                request.header("authorization"), request.method, username, password
            )
            if verdict != "ok":
                self.stats.add("connection_requests_refused")
                return 401, self._cr_auth.challenge(stale=verdict == "stale"), b""
        if not box.online or self.rng.random() < self.config.ignore_connection_requests:
            self.stats.add("connection_requests_ignored")
            return 503, [("Retry-After", str(int(self.config.reboot_seconds) + 1))], b""
        self.stats.add("connection_requests")
        box.add_event("6 CONNECTION REQUEST")
        self.want_session(box)
        return 200, [], b""

    def _box_of_cr_username(self, username: str) -> Box | None:
        box = self._by_cr_username.get(username)
        if box is not None and box.cr_credentials()[0] == username:
            return box
        now = time.monotonic()
        if now - self._by_cr_username_built < 1.0:
            return None
        self._by_cr_username = {b.cr_credentials()[0]: b for b in self.boxes}
        self._by_cr_username_built = now
        return self._by_cr_username.get(username)

    def _udp_connection_request(self, request: udp.UdpRequest, source: tuple) -> None:
        """A parsed UDP connection request (cpesim.udp): checked as TR-069 Annex G asks, then
        treated like an HTTP one. Nothing is answered."""
        box = self._box_of_cr_username(request.un)
        if box is None or not request.signed_with(box.cr_credentials()[1]):
            self.stats.add("udp_connection_requests_refused")
            log.info("UDP connection request from %s refused: wrong username or signature", source)
            return
        last = self._udp_last.get(box.key)
        if last is not None and request.id == last[1]:
            self.stats.add("udp_connection_requests_repeated")  # the ACS's own copies
            return
        if last is not None and request.ts < last[0]:
            self.stats.add("udp_connection_requests_refused")
            log.info("UDP connection request for %s refused: ts older than the last", box.key)
            return
        self._udp_last[box.key] = (request.ts, request.id)
        if not box.online or self.rng.random() < self.config.ignore_connection_requests:
            self.stats.add("connection_requests_ignored")
            return
        self.stats.add("udp_connection_requests")
        box.add_event("6 CONNECTION REQUEST")
        self.want_session(box)


class _HttpSession:
    """The HTTP side of one CWMP session: one connection, its cookies, auth and redirects."""

    def __init__(self, url: Url, auth: ClientAuth | None, config: FleetConfig) -> None:
        self.url = url
        self.auth = auth
        self.config = config
        self.cookies: dict[str, str] = {}
        self.connection: Connection | None = None

    async def _connection(self) -> Connection:
        if self.connection is None or self.connection.closed:
            if self.connection is not None:
                await self.connection.close()
            self.connection = await Connection.open(
                self.url, ssl_context=self.config.ssl_context, timeout=self.config.connect_timeout
            )
        return self.connection

    async def post(self, body: bytes, *, request: bool = False, first: bool = False) -> Response:
        for _ in range(6):
            headers: list[tuple[str, str]] = []
            if body:
                headers.append(("Content-Type", 'text/xml; charset="utf-8"'))
                if request:
                    headers.append(("SOAPAction", '""'))
            if self.cookies:
                headers.append(("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items())))
            authorization = self.auth.header("POST", self.url.target) if self.auth else None
            if authorization:
                headers.append(("Authorization", authorization))
            connection = await self._connection()
            response = await connection.request(
                "POST", self.url.target, headers, body, timeout=self.config.http_timeout
            )
            for value in response.header_all("set-cookie"):
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0].strip()
            if response.status == 401:
                challenges = response.header_all("www-authenticate")
                if self.auth is not None and self.auth.accept(challenges):
                    continue
                raise SessionFailed("the ACS refused the credentials (401)")
            if response.status in (301, 302, 303, 307, 308) and first:
                location = response.header("location")
                if not location:
                    raise SessionFailed(f"HTTP {response.status} without Location")
                await self.close()
                self.url = Url.parse(location)
                self.cookies.clear()
                continue
            if response.status == 503:
                retry_after = response.header("retry-after")
                delay = float(retry_after) if retry_after and retry_after.isdigit() else None
                raise SessionFailed("the ACS is busy (503)", retry_after=delay)
            if response.status not in (200, 204):
                raise SessionFailed(f"HTTP {response.status} {response.reason} from the ACS")
            return response
        raise SessionFailed("too many authentication rounds or redirects")

    def abort(self) -> None:
        if self.connection is not None:
            self.connection.abort()

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None


def _envelope(response: Response):  # type: ignore[no-untyped-def]
    try:
        return parse_envelope(response.body)
    except CwmpParseError as exc:
        raise SessionFailed(f"unparseable answer from the ACS: {exc}") from None


def _what(envelope) -> str:  # type: ignore[no-untyped-def]
    if envelope is None or envelope.message is None:
        return "an empty answer"
    return type(envelope.message).__name__
