"""Carousel test helpers: approved packages, loopback multicast receivers, a loop in a thread."""

from __future__ import annotations

import itertools
import socket
import struct
import threading
import time
from collections.abc import Callable

from fus.carousels.loop import run_loop
from fus.models import Carousel, CarouselRun
from fus.services import catalogue
from fus.services.carousels import save_carousel, start_carousel
from tests.factories import make_package

_groups = itertools.count(1)


def approved_package(tenants, version: str, data: bytes):
    package = make_package(tenants["dc_a"], version, actor=tenants["noc"], data=data)
    if package.status == "draft":
        catalogue.validate_firmware(package, actor=tenants["noc"])
    return catalogue.approve_firmware(package, actor=tenants["noc"])


def free_channel() -> tuple[str, int]:
    """A group in 239.255.0.0/16 (administratively scoped) and a free UDP port, per test."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"239.255.{(port >> 8) & 0xFF}.{next(_groups) % 250 + 1}", port


class MulticastReceiver:
    """A socket joined to `group` on the loopback interface; collects datagrams in a thread."""

    def __init__(self, group: str, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self.sock.bind((group, port))
        mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton("127.0.0.1"))
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        self.sock.settimeout(0.2)

    def until(self, feed: Callable[[bytes], object], timeout: float = 30.0):
        """Feed datagrams to `feed` until it returns something truthy (returned) or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if result := feed(data):
                return result
        return None

    def close(self) -> None:
        self.sock.close()


def make_carousel(tenants, kind: str, packages=(), **fields) -> Carousel:
    group, port = free_channel()
    group = fields.pop("group", group)
    carousel = Carousel(
        name=f"{kind}-{port}",
        kind=kind,
        group=group,
        port=fields.pop("port", port),
        ttl=0,
        interface="127.0.0.1",
        rate_bps=fields.pop("rate_bps", 20_000_000),
        **fields,
    )
    return save_carousel(carousel, packages=packages, actor=tenants["noc"])


class LoopThread:
    """Start the carousel (as the operator would) and run its loop in a thread, as a worker does."""

    def __init__(self, carousel: Carousel, tenants, *, heartbeat: float = 0.2) -> None:
        start_carousel(carousel, actor=tenants["noc"])
        self.run_id = CarouselRun.objects.get(carousel=carousel).run_id
        self.result: list[str] = []
        self.thread = threading.Thread(
            target=lambda: self.result.append(
                run_loop(carousel.pk, self.run_id, heartbeat=heartbeat)
            ),
            daemon=True,
        )
        self.thread.start()

    def join(self, timeout: float = 15.0) -> str:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the carousel loop did not stop"
        return self.result[0]


def retry(fn, attempts: int = 40):
    """The test process's own database calls while a loop thread writes: the in-memory SQLite
    test database (shared cache) refuses concurrent writers at once instead of waiting."""
    from django.db import OperationalError

    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05)
    return None
