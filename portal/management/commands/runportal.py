"""Run the whole portal under one supervisor: uvicorn (HTTP + websockets), a Celery worker, Celery beat.

`make run` calls this after migrating and loading the demo data. Each process runs in its own
session so that Ctrl-C reaches only the supervisor, which then stops the children in order
(SIGTERM: uvicorn finishes requests, the worker finishes its current task), waits, and kills what is
left. A child that dies unexpectedly is restarted with a back-off; one that keeps dying stops the
portal with its exit code, instead of leaving a half-working system behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand

STOP_TIMEOUT = 15
MAX_RESTARTS = 5
RESTART_WINDOW = 60


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """SIGTERM to the main process only: the Celery worker then lets its pool processes finish
        their current task (signalling the whole group would kill them mid-task)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the whole process group: nothing of the child may outlive the portal."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


def uvicorn_argv(bindir: str, host: str, port: int) -> list[str]:
    """uvicorn serving the portal; with PORTAL_TLS_CERT/PORTAL_TLS_KEY it speaks HTTPS only
    (uvicorn's ssl options; request.is_secure() is then true, which CWMP_AUTH=basic requires)."""
    # uvicorn, not daphne: it applies backpressure to request bodies, so a 2 GB firmware
    # upload streams to disk; daphne queues the whole body in memory (decision 0003).
    argv = [
        os.path.join(bindir, "uvicorn"),
        "--host",
        host,
        "--port",
        str(port),
        "--proxy-headers",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "10",
    ]
    cert, key = settings.PORTAL_TLS_CERT, settings.PORTAL_TLS_KEY
    if bool(cert) != bool(key):
        raise ImproperlyConfigured("PORTAL_TLS_CERT and PORTAL_TLS_KEY must be set together")
    if cert:
        for name, path in (("PORTAL_TLS_CERT", cert), ("PORTAL_TLS_KEY", key)):
            if not os.path.isfile(path):
                raise ImproperlyConfigured(f"{name}={path!r}: no such file")
        argv += ["--ssl-certfile", cert, "--ssl-keyfile", key]
    return [*argv, "portal.asgi:application"]


def wait_for_port(host: str, port: int, *, timeout: float) -> bool:
    """True once something accepts TCP connections on host:port (False after `timeout` s)."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.25)
    return False


def demo_fleet_credentials() -> tuple[str, str]:
    """The first-contact credentials the demo fleet logs in with.

    The ACS's own (`CWMP_BOOTSTRAP_USERNAME`/`_PASSWORD`) when configured. Otherwise, with digest
    or basic authentication the fleet would be refused for ever, so the supervisor gives the ACS
    bootstrap credentials of its own for this run: user `demo-fleet`, a random password kept in
    `PORTAL_VAR_DIR/demo_fleet_password`, put into the environment every child inherits (the web
    processes read their settings from it). Each box is then given its own credentials at first
    contact, as a real deployment would do."""
    if settings.CWMP_BOOTSTRAP_USERNAME and settings.CWMP_BOOTSTRAP_PASSWORD:
        return settings.CWMP_BOOTSTRAP_USERNAME, settings.CWMP_BOOTSTRAP_PASSWORD
    if settings.CWMP_AUTH == "none":
        return "", ""
    path = settings.VAR_DIR / "demo_fleet_password"
    if not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(secrets.token_urlsafe(24))
    password = path.read_text().strip()
    os.environ["CWMP_BOOTSTRAP_USERNAME"] = "demo-fleet"
    os.environ["CWMP_BOOTSTRAP_PASSWORD"] = password
    return "demo-fleet", password


def carousel_concurrency() -> int:
    """Threads of the carousel worker: CAROUSEL_WORKER_CONCURRENCY, and never fewer than the
    configured carousels plus headroom (the database may not be migrated yet: then the setting)."""
    from django.db import DatabaseError

    from fus.models import Carousel

    try:
        configured = Carousel.objects.count()
    except DatabaseError:  # not migrated yet: the setting alone decides
        configured = 0
    return max(settings.CAROUSEL_WORKER_CONCURRENCY, configured + 4)


class Command(BaseCommand):
    help = "Run uvicorn, a Celery worker and Celery beat together (Ctrl-C stops all)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("PORTAL_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORTAL_PORT", "8000")))
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes.")

    def handle(self, *args, host, port, concurrency, **options):
        python = sys.executable
        fleet_credentials = demo_fleet_credentials() if settings.PORTAL_DEMO_FLEET else None
        bindir = os.path.dirname(python)
        celery = os.path.join(bindir, "celery")
        children = [
            Child("web", uvicorn_argv(bindir, host, port)),
            *(
                [Child("cwmp", uvicorn_argv(bindir, host, settings.CWMP_PORT))]
                if settings.CWMP_PORT
                else []
            ),
            Child(
                "worker",
                [
                    celery,
                    "-A",
                    "portal",
                    "worker",
                    "-l",
                    "INFO",
                    "-Q",
                    "default,acs",
                    "--concurrency",
                    str(concurrency),
                    "-n",
                    f"default@{os.uname().nodename}",
                ],
            ),
            # The multicast carousels: one long task per running carousel, on their own queue,
            # in threads (each mostly sleeps between packets), so a busy default worker never
            # delays them and enough slots exist for every configured carousel.
            Child(
                "carousels",
                [
                    celery,
                    "-A",
                    "portal",
                    "worker",
                    "-l",
                    "INFO",
                    "-Q",
                    "carousel",
                    "-P",
                    "threads",
                    "--concurrency",
                    str(carousel_concurrency()),
                    "-n",
                    f"carousel@{os.uname().nodename}",
                ],
            ),
            Child(
                "beat",
                [
                    celery,
                    "-A",
                    "portal",
                    "beat",
                    "-l",
                    "INFO",
                    "--schedule",
                    str(settings.VAR_DIR / "celerybeat-schedule"),
                ],
            ),
        ]
        if settings.PORTAL_DEMO_FLEET:
            from cpesim.demo import demo_argv

            # 20 simulated boxes against /cwmp, with the ACS's first-contact credentials.
            username, password = fleet_credentials
            fleet = demo_argv(
                f"http://{host}:{port}/cwmp",
                username=username,
                password=password,
                listen=settings.PORTAL_DEMO_FLEET_LISTEN,
                state=str(settings.VAR_DIR / "demo-fleet-state.json"),
            )
            children.append(Child("fleet", [python, "-m", "cpesim", *fleet]))
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

        for child in children:
            if child.name == "fleet":
                # Boxes that find no server back off (TR-069's retry wait doubles): let them
                # inform once the web server answers, as boxes would meet a running ACS.
                wait_for_port(host, port, timeout=120)
            child.start()
        broker = (
            "Redis" if settings.REDIS_URL else f"filesystem broker in {settings.CELERY_BROKER_DIR}"
        )
        db = settings.DATABASES["default"]
        scheme = "https" if settings.PORTAL_TLS_CERT else "http"
        self.stdout.write(self.style.SUCCESS(f"\nRMS-FUS Portal: {scheme}://{host}:{port}/"))
        self.stdout.write(
            f"  CWMP (ACS): {scheme}://{host}:{port}/cwmp"
            + (f" and {scheme}://{host}:{settings.CWMP_PORT}/cwmp" if settings.CWMP_PORT else "")
            + f" (CWMP_AUTH={settings.CWMP_AUTH})"
        )
        self.stdout.write(
            f"  database: {db['ENGINE'].rsplit('.', 1)[-1]} {db.get('NAME')}; Celery: {broker}"
        )
        self.stdout.write(
            f"  supplier portal: http://{host}:{port}/supplier/   API: http://{host}:{port}/api/docs/"
        )
        self.stdout.write(
            "  demo logins: admin, noc, helpdesk, supplier-a, supplier-b "
            f"(password: {'$DEMO_PASSWORD' if settings.DEMO_PASSWORD else 'the user name'})"
        )
        self.stdout.write("  Ctrl-C stops everything.\n")

        exit_code = 0
        while not stopping:
            time.sleep(0.5)
            for child in children:
                if child.alive() or stopping:
                    continue
                code = child.process.returncode
                now = time.monotonic()
                child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW] + [now]
                if len(child.restarts) > MAX_RESTARTS:
                    self.stderr.write(
                        f"{child.name} exited with {code} {MAX_RESTARTS} times in "
                        f"{RESTART_WINDOW}s; stopping the portal."
                    )
                    exit_code = code or 1
                    stopping = True
                    break
                self.stderr.write(f"{child.name} exited with {code}; restarting it.")
                time.sleep(min(2 ** (len(child.restarts) - 1), 10))
                child.start()

        self.stdout.write("Stopping web, worker and beat ...")
        for child in reversed(children):
            child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in children:
            while child.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if child.alive():
                self.stderr.write(f"{child.name} did not stop in {STOP_TIMEOUT}s; killing it.")
                child.kill()
                child.process.wait()
        self.stdout.write("Stopped.")
        if exit_code:
            sys.exit(exit_code)
