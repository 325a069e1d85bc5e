"""Real peers for cpesim tests: a tiny threaded HTTP ACS driving `acs.cwmp.session` (digest or basic
auth, cookie-bound sessions), and a firmware file server. Both are real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from acs.cwmp import messages as m
from acs.cwmp import session as s
from acs.cwmp.codec import parse_envelope

REALM = "test-acs"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Record:
    """What the ACS saw of one box."""

    informs: list[m.Inform] = field(default_factory=list)
    cpe_requests: list[object] = field(default_factory=list)
    responses: dict[str, object] = field(default_factory=dict)  # request id -> response/fault
    abandoned: list[str] = field(default_factory=list)
    sessions_closed: int = 0


class AcsPeer:
    """An ACS: one `acs.cwmp.session` state per cookie, stored as JSON between POSTs."""

    def __init__(
        self,
        *,
        auth: str = "digest",
        algorithm: str = "SHA-256",
        credentials: dict[str, str] | None = None,
        hold_requests: bool = False,
    ) -> None:
        self.auth = auth
        self.algorithm = algorithm
        self.credentials = credentials or {}
        self.hold_requests = hold_requests
        self.queues: dict[str, list[s.QueuedRequest]] = defaultdict(list)
        self.records: dict[str, Record] = defaultdict(Record)
        self.sessions: dict[str, tuple[str | None, dict]] = {}
        self.cookieless_posts = 0
        self.auth_failures = 0
        self.lock = threading.Lock()
        self.nonces: set[str] = set()
        self.port = free_port()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, headers, out = peer.handle(self, body)
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cwmp"

    def __enter__(self) -> AcsPeer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def enqueue(self, serial: str, request_id: str, message) -> None:
        with self.lock:
            self.queues[serial].append(s.QueuedRequest(request_id, message))

    # --- auth -------------------------------------------------------------------------------------

    def _check_auth(self, handler) -> str | None:
        """The authenticated user name, or None (a 401 goes out)."""
        header = handler.headers.get("Authorization") or ""
        if self.auth == "none":
            return ""
        if self.auth == "basic":
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                if self.credentials.get(user) == password:
                    return user
            return None
        if not header.startswith("Digest "):
            return None
        params = dict(
            (k.lower(), v.strip('"'))
            for k, v in re.findall(r'([A-Za-z-]+)=("[^"]*"|[^,\s]*)', header[7:])
        )
        user = params.get("username", "")
        if user not in self.credentials or params.get("nonce") not in self.nonces:
            return None
        algorithm = params.get("algorithm", "MD5")
        h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algorithm]

        def hx(text: str) -> str:
            return h(text.encode()).hexdigest()

        ha1 = hx(f"{user}:{REALM}:{self.credentials[user]}")
        ha2 = hx(f"POST:{params.get('uri')}")
        expected = hx(
            f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:{params['qop']}:{ha2}"
        )
        return user if expected == params.get("response") else None

    def _challenge(self) -> list[tuple[str, str]]:
        if self.auth == "basic":
            return [("WWW-Authenticate", f'Basic realm="{REALM}"')]
        nonce = os.urandom(8).hex()
        self.nonces.add(nonce)
        return [
            (
                "WWW-Authenticate",
                f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", algorithm={self.algorithm}',
            )
        ]

    # --- CWMP -------------------------------------------------------------------------------------

    def handle(self, handler, body: bytes):
        user = self._check_auth(handler)
        if user is None:
            self.auth_failures += 1
            return 401, self._challenge(), b""
        cookie = handler.headers.get("Cookie") or ""
        match = re.search(r"acs_session=([0-9a-f]+)", cookie)
        envelope = parse_envelope(body)
        with self.lock:
            if match and match.group(1) in self.sessions:
                session_id = match.group(1)
                serial, data = self.sessions[session_id]
                state = s.SessionState.from_dict(data)
                headers = []
            else:
                if body.strip() == b"" or (
                    match is None and not isinstance(envelope.message, m.Inform)
                ):
                    self.cookieless_posts += 1
                session_id = os.urandom(6).hex()
                serial = None
                state = s.new_session(session_id, hold_requests=self.hold_requests)
                headers = [("Set-Cookie", f"acs_session={session_id}; Path=/; HttpOnly")]
            if envelope is not None and isinstance(envelope.message, m.Inform):
                serial = envelope.message.device_id.serial_number
                state = s.enqueue(state, *self.queues.pop(serial, []))
            step = s.handle(state, envelope)
            record = self.records[serial or "?"]
            for event in step.events:
                if isinstance(event, s.InformReceived):
                    record.informs.append(event.inform)
                elif isinstance(event, s.CpeRequestReceived | s.CpeRequestRefused):
                    record.cpe_requests.append(event.request)
                elif isinstance(event, s.RpcResponse):
                    record.responses[event.request_id] = event.response
                elif isinstance(event, s.RpcFault):
                    record.responses[event.request_id] = event.fault
                elif isinstance(event, s.RpcAbandoned):
                    record.abandoned.append(event.request_id)
                elif isinstance(event, s.SessionClosed):
                    record.sessions_closed += 1
            if step.response is None:
                self.sessions.pop(session_id, None)
                return 204, headers, b""
            self.sessions[session_id] = (serial, step.state.to_dict())
            return 200, [*headers, ("Content-Type", 'text/xml; charset="utf-8"')], step.response


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll (from a thread other than the event loop) until `predicate()` is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


async def until(predicate, timeout: float = 10.0) -> None:
    """Poll (inside the event loop) until `predicate()` is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


class FleetThread(threading.Thread):
    """A cpesim fleet on its own event loop, beside the test's thread (which drives the portal):
    HTTP connection requests at `listen`, UDP ones at `udp_listen` when given."""

    def __init__(
        self,
        fleet,
        listen: tuple[str, int] | None,
        *,
        udp_listen: tuple[str, int] | None = None,
        ramp_seconds: float = 5,
    ) -> None:
        super().__init__(daemon=True)
        self.fleet, self.listen, self.udp_listen = fleet, listen, udp_listen
        self.ramp_seconds = ramp_seconds
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started = threading.Event()
        self._quit: asyncio.Event | None = None

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._quit = asyncio.Event()
        await self.fleet.start(
            listen=self.listen, ramp_seconds=self.ramp_seconds, udp_listen=self.udp_listen
        )
        self.started.set()
        await self._quit.wait()
        await self.fleet.stop()

    def stop(self) -> None:
        if self.loop is not None and self._quit is not None:
            self.loop.call_soon_threadsafe(self._quit.set)
        self.join(timeout=30)


class FileServer:
    """Serves firmware files by path; some paths misbehave on purpose."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.port = free_port()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                server.requests.append(self.path)
                if path == "/private.img" and self.headers.get("Authorization") is None:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="fus"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if (
                    path == "/private.img"
                    and self.headers.get("Authorization")
                    != "Basic " + base64.b64encode(b"fus:pw").decode()
                ):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="fus"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path == "/broken.img":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = server.files.get(path)
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if path == "/truncated.img":
                    self.send_header("Content-Length", str(len(data) * 2))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data)
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
