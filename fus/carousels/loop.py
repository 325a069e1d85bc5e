"""The carousel loop: send the contents at the configured rate, cycle after cycle, until told to
stop. Run by the Celery task `fus.carousels.run` (queue `carousel`) and, in the foreground, by
`manage.py run_carousel ID`.

Every `CAROUSEL_HEARTBEAT_SECONDS` it writes its state (`CarouselRun`: heartbeat, cycles, packets,
bytes, bitrate, errors) and reads back the carousel: stopped by the operator (`desired_running`
false), superseded (another run id took over: the watchdog restarted it elsewhere), channel changed
(new socket or rate), or contents changed (fingerprint) — then it reloads with the next content
version at once. A content error (missing file, nothing to send) is shown as the run's error and
retried on every heartbeat; other carousels are not affected. Socket errors are counted and the
loop carries on. The loop never holds a database transaction while sending.

SAP deletions (RFC 2974 section 6): a session a SAP carousel announced and that disappears from
its contents (the package left the carousel or was withdrawn, its rollout paused or halted, nothing
left to announce) is deleted with `DELETION_REPEATS` deletion packets, one per cycle; when the
operator stops the carousel, every session it announced is deleted before the socket closes (the
repeats within about a second). A worker shutdown or a superseded run sends none: the carousel is
meant to run on and the watchdog restarts it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from fus.carousels.content import CarouselContentError, Content, Plan, describe
from fus.carousels.sender import Pacer, open_socket
from fus.models import Carousel, CarouselRun, CarouselState

log = logging.getLogger(__name__)

__all__ = ["DELETION_REPEATS", "SHUTDOWN", "run_loop"]

#: How many times a SAP deletion packet is sent (UDP may lose one).
DELETION_REPEATS = 3
#: On stop, the deletions' repeats are paced to the carousel's rate but take at most this long.
DELETION_SECONDS = 1.0

#: Set when the worker shuts down: every loop in the process ends (the watchdog restarts them).
SHUTDOWN = threading.Event()


@dataclass
class _Counters:
    cycles: int = 0
    packets: int = 0
    bytes_sent: int = 0
    errors: int = 0
    window_bytes: int = 0
    window_start: float = 0.0
    cycle_started: float = 0.0
    cycle_seconds: float = 0.0


def _retrying(fn, attempts: int = 20):
    """Run a database call again on transient errors (a locked SQLite table, a dropped connection)."""
    for attempt in range(attempts):
        try:
            return fn()
        except DatabaseError as exc:
            if attempt == attempts - 1:
                raise
            log.warning("carousel database call failed (%s); retrying", exc)
            close_old_connections()
            time.sleep(0.05 * min(attempt + 1, 5))
    return None


class _Withdrawals:
    """The SAP sessions announced on the channel (their deletion datagrams) and the deletions
    still to be repeated for sessions that disappeared."""

    def __init__(self) -> None:
        self.announced: dict[tuple[str, int], bytes] = {}
        self.pending: dict[tuple[str, int], list] = {}  # key -> [datagram, repeats left]

    def update(self, deletions: dict[tuple[str, int], bytes]) -> None:
        """A new plan announces the sessions of `deletions` (empty on a content error)."""
        for key, datagram in self.announced.items():
            if key not in deletions:
                self.pending[key] = [datagram, DELETION_REPEATS]
        for key in deletions:
            self.pending.pop(key, None)  # announced again
        self.announced = dict(deletions)

    def due(self) -> list[bytes]:
        """One round of the pending deletions (called once per cycle)."""
        out = []
        for key, entry in list(self.pending.items()):
            out.append(entry[0])
            entry[1] -= 1
            if entry[1] <= 0:
                del self.pending[key]
        return out

    def everything(self, *, keep_announced: bool) -> list[bytes]:
        """Deletions of every session announced or being withdrawn on this channel (stop, or the
        channel moves); pending repeats are settled by the caller's own repeats."""
        out = [entry[0] for entry in self.pending.values()] + list(self.announced.values())
        self.pending.clear()
        if not keep_announced:
            self.announced.clear()
        return out


def _send_deletions(sock, channel: tuple, datagrams: list[bytes], rate_bps: float, counters):
    """Send `datagrams` DELETION_REPEATS times, paced, within about DELETION_SECONDS."""
    if not datagrams:
        return
    total_bits = 8 * DELETION_REPEATS * sum(len(d) for d in datagrams)
    pacer = Pacer(max(rate_bps, total_bits / DELETION_SECONDS))
    for _ in range(DELETION_REPEATS):
        for datagram in datagrams:
            pacer.wait(len(datagram))
            try:
                sock.sendto(datagram, (channel[0], channel[1]))
            except OSError as exc:
                counters.errors += 1
                log.warning("SAP deletion to %s:%s failed: %s", channel[0], channel[1], exc)
                continue
            counters.packets += 1
            counters.bytes_sent += len(datagram)


def _channel(c: Carousel) -> tuple:
    return (c.group, c.port, c.ttl, c.interface)


def run_loop(
    carousel_id: int,
    run_id: str | uuid.UUID,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    heartbeat: float | None = None,
) -> str:
    """Run the carousel until it is stopped or superseded; returns why it ended."""
    run_id = uuid.UUID(str(run_id))
    beat_every = heartbeat if heartbeat is not None else settings.CAROUSEL_HEARTBEAT_SECONDS
    worker = f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"
    started = _retrying(
        lambda: CarouselRun.objects.filter(carousel_id=carousel_id, run_id=run_id).update(
            state=CarouselState.RUNNING,
            worker=worker[:200],
            started_at=timezone.now(),
            heartbeat_at=timezone.now(),
            last_error="",
        )
    )
    if not started:
        return "superseded"
    carousel = _retrying(lambda: Carousel.objects.get(pk=carousel_id))
    _last_known[carousel_id] = carousel
    counters = _Counters(window_start=time.monotonic())
    sock = None
    pacer = Pacer(carousel.rate_bps)
    channel = None
    plan: Plan | None = None
    fingerprint = ""
    error = ""
    version = _retrying(lambda: CarouselRun.objects.get(carousel_id=carousel_id).content_version)
    next_beat = 0.0
    reason = "stopped"
    withdrawals = _Withdrawals()
    try:
        while True:
            # --- heartbeat: state out, orders in -----------------------------------------------
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + beat_every
                close_old_connections()
                alive, carousel = _beat(carousel_id, run_id, counters, error, now)
                if not alive:
                    reason = "superseded"
                    break
                if not carousel.desired_running or should_stop() or SHUTDOWN.is_set():
                    reason = "stopped" if not carousel.desired_running else "shutdown"
                    break
                if _channel(carousel) != channel:
                    if sock is not None:
                        # the sessions move: delete them where receivers heard them
                        _send_deletions(
                            sock,
                            channel,
                            withdrawals.everything(keep_announced=True),
                            pacer.rate_bps,
                            counters,
                        )
                        sock.close()
                    sock = open_socket(
                        carousel.group, ttl=carousel.ttl, interface=carousel.interface
                    )
                    channel = _channel(carousel)
                if pacer.rate_bps != carousel.rate_bps:
                    pacer.set_rate(carousel.rate_bps)
                try:
                    content: Content = _retrying(lambda c=carousel: describe(c))
                    if content.fingerprint != fingerprint or plan is None:
                        if fingerprint:
                            version += 1
                        plan = content.plan(version)
                        fingerprint = content.fingerprint
                        withdrawals.update(plan.deletions)
                        _retrying(
                            lambda v=version, f=fingerprint: CarouselRun.objects.filter(
                                carousel_id=carousel_id, run_id=run_id
                            ).update(content_version=v, content_fingerprint=f)
                        )
                        log.info("carousel %s: content version %s", carousel.name, version)
                    error = ""
                except CarouselContentError as exc:
                    error, plan, fingerprint = str(exc), None, ""
                    counters.errors += 1
                    withdrawals.update({})
            # --- SAP sessions that disappeared: one round of their deletions per cycle ----------
            for datagram in withdrawals.due():
                pacer.wait(len(datagram))
                try:
                    sock.sendto(datagram, (carousel.group, carousel.port))
                except OSError as exc:
                    counters.errors += 1
                    error = f"send: {exc}"
                    continue
                counters.packets += 1
                counters.bytes_sent += len(datagram)
                counters.window_bytes += len(datagram)
            if plan is None:
                time.sleep(min(beat_every, 0.5))
                continue
            # --- one cycle, interrupted by the next heartbeat if due -----------------------------
            counters.cycle_started = time.monotonic()
            interrupted = False
            address, sendto, wait = (carousel.group, carousel.port), sock.sendto, pacer.wait
            for datagram in plan.cycle():
                wait(len(datagram))
                try:
                    sendto(datagram, address)
                except OSError as exc:
                    counters.errors += 1
                    error = f"send: {exc}"
                    time.sleep(0.05)
                    continue
                counters.packets += 1
                counters.bytes_sent += len(datagram)
                counters.window_bytes += len(datagram)
                if time.monotonic() >= next_beat:
                    current = plan
                    alive_before = fingerprint
                    now = time.monotonic()
                    next_beat = now + beat_every
                    close_old_connections()
                    alive, carousel = _beat(carousel_id, run_id, counters, error, now)
                    if (
                        not alive
                        or not carousel.desired_running
                        or should_stop()
                        or SHUTDOWN.is_set()
                        or _channel(carousel) != channel
                        or _changed(carousel, alive_before)
                    ):
                        next_beat = 0.0  # handled at the top of the loop
                        interrupted = True
                        break
                    if pacer.rate_bps != carousel.rate_bps:
                        pacer.set_rate(carousel.rate_bps)
                    plan = current
            if not interrupted:
                counters.cycles += 1
                counters.cycle_seconds = time.monotonic() - counters.cycle_started
        if reason == "stopped" and sock is not None:
            # stopped by the operator: every session it announced is deleted (RFC 2974 section 6)
            _send_deletions(
                sock,
                channel,
                withdrawals.everything(keep_announced=False),
                pacer.rate_bps,
                counters,
            )
    except Exception as exc:
        log.exception("carousel %s failed", carousel_id)
        message = f"{type(exc).__name__}: {exc}"[:2000]
        _retrying(
            lambda: CarouselRun.objects.filter(carousel_id=carousel_id, run_id=run_id).update(
                state=CarouselState.ERROR, last_error=message
            ),
            attempts=3,
        )
        raise
    finally:
        if sock is not None:
            sock.close()
    final = CarouselState.STOPPED if reason == "stopped" else None
    fields = {"stopped_at": timezone.now(), "bitrate_bps": 0}
    if final is not None:
        fields["state"] = final
    if reason != "superseded":
        _retrying(lambda: _write_counters(carousel_id, run_id, counters, fields))
    close_old_connections()
    return reason


def _changed(carousel: Carousel, fingerprint: str) -> bool:
    try:
        return _retrying(lambda: describe(carousel)).fingerprint != fingerprint
    except CarouselContentError:
        return True


def _write_counters(carousel_id, run_id, counters: _Counters, extra: dict) -> int:
    return CarouselRun.objects.filter(carousel_id=carousel_id, run_id=run_id).update(
        cycles=counters.cycles,
        packets=counters.packets,
        bytes_sent=counters.bytes_sent,
        errors=counters.errors,
        cycle_seconds=counters.cycle_seconds,
        **extra,
    )


def _beat(
    carousel_id, run_id, counters: _Counters, error: str, now: float
) -> tuple[bool, Carousel]:
    """Write the state, read the orders. A database hiccup (locked, connection lost) does not stop
    the carousel: it keeps sending as configured and tries again at the next heartbeat."""
    for attempt in range(3):
        try:
            return _beat_once(carousel_id, run_id, counters, error, now)
        except DatabaseError as exc:
            log.warning(
                "carousel %s: heartbeat failed (%s), attempt %s", carousel_id, exc, attempt + 1
            )
            close_old_connections()
            time.sleep(0.05 * (attempt + 1))
    counters.errors += 1
    if carousel_id not in _last_known:
        raise DatabaseError(f"carousel {carousel_id}: no heartbeat could be written")
    return True, _last_known[carousel_id]


_last_known: dict[int, Carousel] = {}


def _beat_once(
    carousel_id, run_id, counters: _Counters, error: str, now: float
) -> tuple[bool, Carousel]:
    elapsed = max(now - counters.window_start, 1e-6)
    bitrate = counters.window_bytes * 8 / elapsed
    alive = _write_counters(
        carousel_id,
        run_id,
        counters,
        {
            "heartbeat_at": timezone.now(),
            "bitrate_bps": bitrate,
            "last_error": error[:2000],
            "state": CarouselState.ERROR if error else CarouselState.RUNNING,
        },
    )
    counters.window_bytes, counters.window_start = 0, now
    carousel = Carousel.objects.get(pk=carousel_id)
    _last_known[carousel_id] = carousel
    return bool(alive), carousel
