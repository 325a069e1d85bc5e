"""SAP deletion packets (RFC 2974 section 6) over real UDP multicast on loopback (TTL 0, interface
127.0.0.1): cpesim's receiver sees a session, then sees it deleted when the announcement carousel
stops, or when the session is withdrawn (its rollout paused) while the others stay announced."""

from __future__ import annotations

import time

import pytest

from cpesim.receiver import MulticastReceiver as BoxReceiver
from fus.carousels.loop import DELETION_REPEATS
from fus.models import CarouselKind
from fus.multicast import sap
from fus.rollouts import services as rollouts
from fus.rollouts.choices import Channel
from fus.services import carousels as service
from tests.fus.carousels.helpers import (
    LoopThread,
    MulticastReceiver,
    approved_package,
    make_carousel,
    retry,
)
from tests.fus.rollouts.conftest import make_fleet
from tests.fus.rollouts.helpers import Clock, create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("carousels")]


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    monkeypatch.setattr(service, "_dispatch", lambda cid, rid: None)


class Listener:
    """A loopback multicast socket feeding cpesim's SAP handling; records the deletions seen."""

    def __init__(self, carousel) -> None:
        self.rx = MulticastReceiver(carousel.group, carousel.port)
        self.box = BoxReceiver([], (carousel.group, carousel.port))
        self.deleted: list[tuple[str, int]] = []

    def feed(self, data: bytes) -> None:
        packet = sap.decode(data)
        if packet.is_deletion:
            fields = packet.payload.decode().split()
            self.deleted.append((fields[5], int(fields[1])))
        assert self.box._sap(data)

    def until(self, predicate, timeout: float = 20.0) -> bool:
        return bool(self.rx.until(lambda d: self.feed(d) or predicate(), timeout=timeout))

    def drain(self, seconds: float) -> None:
        """Everything that arrives for `seconds`."""
        end = time.monotonic() + seconds
        self.rx.until(lambda d: self.feed(d) or time.monotonic() > end, timeout=seconds)

    def close(self) -> None:
        self.rx.close()


def _announcer(tenants, packages):
    make_carousel(tenants, CarouselKind.FLUTE, packages, tsi=9, source_address="127.0.0.1")
    return make_carousel(
        tenants, CarouselKind.SAP, packages, rate_bps=100_000, source_address="127.0.0.1"
    )


def test_stopping_the_announcement_carousel_deletes_its_sessions(tenants):
    package = approved_package(tenants, "5.1.0", b"img" * 3000)
    announcer = _announcer(tenants, [package])
    key = ("127.0.0.1", package.pk)
    listener = Listener(announcer)
    loop = LoopThread(announcer, tenants)
    try:
        assert listener.until(lambda: key in listener.box.sap_sessions)
        assert listener.deleted == []
        retry(lambda: service.stop_carousel(announcer, actor=tenants["noc"]))
        assert listener.until(lambda: len(listener.deleted) >= DELETION_REPEATS)
        assert loop.join() == "stopped"
        listener.drain(0.5)  # nothing after the deletions: the session stays gone
    finally:
        listener.close()
    assert listener.deleted == [key] * DELETION_REPEATS
    assert key not in listener.box.sap_sessions
    assert listener.box.stats["sap_deletions"] == DELETION_REPEATS


def test_a_withdrawn_session_is_deleted_and_the_others_stay_announced(tenants):
    make_fleet(tenants["dc_a"], 4)
    steady = approved_package(tenants, "5.2.0", b"steady" * 1000)
    staged = approved_package(tenants, "5.3.0", b"staged" * 1000)
    rollout = create(
        staged, tenants["noc"], channels=[Channel.UNMANAGED.value], stages=[{"percent": 100}]
    )
    rollouts.start_rollout(rollout, actor=tenants["noc"])
    Clock().tick(rollout)  # the only wave is released: every targeted box
    announcer = _announcer(tenants, [steady, staged])
    keep, withdraw = ("127.0.0.1", steady.pk), ("127.0.0.1", staged.pk)
    listener = Listener(announcer)
    loop = LoopThread(announcer, tenants)
    sessions = listener.box.sap_sessions
    try:
        assert listener.until(lambda: keep in sessions and withdraw in sessions)
        # the NOC pauses the rollout: the staged package may no longer be announced
        retry(lambda: rollouts.pause_rollout(rollout, actor=tenants["noc"]))
        assert listener.until(lambda: len(listener.deleted) >= DELETION_REPEATS)
        assert withdraw not in sessions and keep in sessions
        announced_before = listener.box.stats["sap_announcements"]
        listener.drain(1.0)
        assert listener.box.stats["sap_announcements"] > announced_before  # the other goes on
        assert withdraw not in sessions and keep in sessions
        assert listener.deleted == [withdraw] * DELETION_REPEATS  # a few repeats, then no more
        # resumed: announced again
        retry(lambda: rollouts.resume_rollout(rollout, actor=tenants["noc"]))
        assert listener.until(lambda: withdraw in sessions)
    finally:
        retry(lambda: service.stop_carousel(announcer, actor=tenants["noc"]))
        loop.join()
        listener.close()
