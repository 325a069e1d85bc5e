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


class Command(BaseCommand):
    help = "Run uvicorn, a Celery worker and Celery beat together (Ctrl-C stops all)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("PORTAL_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORTAL_PORT", "8000")))
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes.")

    def handle(self, *args, host, port, concurrency, **options):
        python = sys.executable
        bindir = os.path.dirname(python)
        celery = os.path.join(bindir, "celery")
        children = [
            # uvicorn, not daphne: it applies backpressure to request bodies, so a 2 GB firmware
            # upload streams to disk; daphne queues the whole body in memory (decision 0003).
            Child(
                "web",
                [
                    os.path.join(bindir, "uvicorn"),
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--proxy-headers",
                    "--no-access-log",
                    "--timeout-graceful-shutdown",
                    "10",
                    "portal.asgi:application",
                ],
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
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

        for child in children:
            child.start()
        broker = (
            "Redis" if settings.REDIS_URL else f"filesystem broker in {settings.CELERY_BROKER_DIR}"
        )
        db = settings.DATABASES["default"]
        self.stdout.write(self.style.SUCCESS(f"\nRMS-FUS Portal: http://{host}:{port}/"))
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
