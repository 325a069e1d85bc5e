"""UDP multicast sending and pacing (no Django: the benchmark uses it as it is)."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable

__all__ = ["Pacer", "open_socket"]


def open_socket(
    group: str, *, ttl: int = 1, interface: str | None = None, loop: bool = True
) -> socket.socket:
    """A UDP socket for sending to `group`: TTL/hop limit, loopback delivery to local receivers, and
    the outgoing interface (IPv4: its address; IPv6: the interface that holds the address)."""
    address = ipaddress.ip_address(group)
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1 if loop else 0)
            if interface:
                sock.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface)
                )
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 1 if loop else 0)
            if interface:
                sock.setsockopt(
                    socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, _ipv6_index(interface)
                )
    except OSError:
        sock.close()
        raise
    return sock


def _ipv6_index(address: str) -> int:
    """The index of the interface holding `address` (bind to it and read the scope back)."""
    probe = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        probe.bind((address, 0))
        return probe.getsockname()[3] or socket.if_nametoindex("lo")
    finally:
        probe.close()


class Pacer:
    """Paces payload bytes to `rate_bps` on a cumulative schedule: packet n leaves no earlier
    than the time its bytes are due, so sleeping too long is made up (bounded by `max_lag`) and
    the long-run rate is exact. `wait(n)` blocks until n more bytes may go."""

    def __init__(
        self,
        rate_bps: float,
        *,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
        max_lag: float = 0.05,
        min_sleep: float = 0.0002,
    ) -> None:
        if rate_bps <= 0:
            raise ValueError("rate_bps must be positive")
        self.rate_bps = float(rate_bps)
        self.clock = clock
        self.sleep = sleep
        self.max_lag = max_lag
        self.min_sleep = min_sleep
        self.due = clock()
        #: Schedule time given up after stalls longer than `max_lag` (seconds): what the long-run
        #: rate falls short by when the process is descheduled (a loaded host).
        self.given_up = 0.0

    def set_rate(self, rate_bps: float) -> None:
        self.rate_bps = float(rate_bps)
        self.due = max(self.due, self.clock())

    def wait(self, nbytes: int) -> None:
        now = self.clock()
        if self.due < now - self.max_lag:
            self.given_up += now - self.max_lag - self.due
            self.due = now - self.max_lag  # a long stall is not made up in one burst
        ahead = self.due - now
        if ahead > self.min_sleep:
            self.sleep(ahead)
        self.due += nbytes * 8 / self.rate_bps
