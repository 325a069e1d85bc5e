"""Telling the live pages that something changed (the sending side of `portal.consumers`).

* `group_send(groups, message)`: send a message to channel-layer groups on the process's sending
  loop, returning once sent (or `WAIT` seconds later); never raises (a live update must not fail
  the change it announces); skips groups nobody listens to (a fleet's sessions then cost
  nothing): on the in-memory layer those without a channel, on Redis those no open page leases
  (`portal.watchers`). Returns how many groups it was handed over for.
* `after_commit(send, key)`: call ``send(key)`` once the current transaction commits (at once
  outside one), once per key however often the transaction announces it.
* `attach(loop)`: the ASGI entries (`portal.asgi`, `portal.lean`) name their serving loop.

Where a send runs. A channel layer's connections and queues belong to an event loop. The sync code
that announces (views in the lean entries' thread pools, Celery tasks) has none, and
`async_to_sync` there builds a new loop in a new thread for every call: with Redis each
announcement then opened a new connection and cost about 2.6 ms of CPU (two per CWMP session,
more than the session's own work). So every send runs on one loop per process: the ASGI server's
serving loop where there is one (the in-memory layer's subscribers wait on it, so a message put
there wakes them), else a loop of the process's own on a daemon thread (Celery workers,
management commands, WSGI test servers), started on first use and again after a fork.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent import futures
from concurrent.futures import Future

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

from portal import watchers

log = logging.getLogger(__name__)


#: Sends running at once on a loop: a burst of announcements (a bulk action's devices, say) must
#: not open a Redis connection each; more than BACKLOG waiting are dropped with a warning (live
#: pages also poll), as is a send that takes longer than SEND_TIMEOUT seconds. The announcing
#: thread waits for its sends at most WAIT seconds (then they go on without it).
SENDERS = 4
BACKLOG = 10_000
SEND_TIMEOUT = 5.0
WAIT = 2.0


class _Sender:
    """Channel-layer sends on one event loop, `SENDERS` at a time, in the order handed over."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pid = os.getpid()
        self._queue: asyncio.Queue | None = None  # made on the loop, at the first send
        self._tasks: set[asyncio.Task] = set()

    def usable(self) -> bool:
        return self.pid == os.getpid() and self.loop.is_running()

    def submit(self, layer, group: str, message: dict) -> Future:
        """From any thread; the future ends when the send has."""
        done: Future = Future()
        self.loop.call_soon_threadsafe(self._put, layer, group, message, done)
        return done

    def _put(self, layer, group: str, message: dict, done: Future) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue(BACKLOG)
            for _ in range(SENDERS):
                task = self.loop.create_task(self._run(self._queue))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        try:
            self._queue.put_nowait((layer, group, message, done))
        except asyncio.QueueFull:
            log.warning("live announcements backlogged: %s to %s dropped", message, group)
            done.set_result(False)

    async def _run(self, queue: asyncio.Queue) -> None:
        while True:
            layer, group, message, done = await queue.get()
            try:
                async with asyncio.timeout(SEND_TIMEOUT):
                    await layer.group_send(group, message)
            except Exception as exc:  # a live update must never fail the change it announces
                log.warning("could not announce %s to %s: %r", message, group, exc)
                done.set_result(False)
            else:
                done.set_result(True)


class _Loops:
    """The serving loop an ASGI entry attached, and the process's own sending loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._serving: _Sender | None = None
        self._own: _Sender | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        serving = self._serving
        if serving is None or serving.loop is not loop:
            self._serving = _Sender(loop)

    def serving(self) -> _Sender | None:
        serving = self._serving
        return serving if serving is not None and serving.usable() else None

    def own(self) -> _Sender:
        with self._lock:
            own = self._own
            if own is None or own.pid != os.getpid() or own.loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="portal-live", daemon=True).start()
                self._own = own = _Sender(loop)
            return own


_loops = _Loops()
attach = _loops.attach


def group_send(groups: Iterable[str], message: dict) -> int:
    layer = get_channel_layer()
    if layer is None:
        return 0
    sender = _loops.serving()
    if isinstance(layer, InMemoryChannelLayer):
        groups = [group for group in groups if layer.groups.get(group)]
        if groups and sender is None:
            # Listeners but no serving loop: a test's consumers on the test's own loop, which
            # async_to_sync finds from a sync_to_async thread.
            return _send_here(layer, groups, message)
    else:
        groups = list(groups)
        leased = watchers.watched(layer)  # None: not known, so every group
        if leased is not None:
            groups = [group for group in groups if group in leased]
        sender = sender or _loops.own()
    if not groups:
        return 0
    sent = [sender.submit(layer, group, message) for group in groups]
    if not _on(sender.loop):  # sent when this returns, as a caller expects
        futures.wait(sent, timeout=WAIT)
    return len(groups)


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _send_here(layer, groups: list[str], message: dict) -> int:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # on an event loop's own thread async_to_sync cannot be used: left to polling
        log.debug("%s announced from an event loop thread, left to polling", message)
        return 0
    told = 0
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # a live update must never fail the change it announces
            log.warning("could not announce %s to %s", message, group, exc_info=True)
            continue
        told += 1
    return told


class _Batch:
    """The on-commit callback of one transaction for one `send`: the keys to announce."""

    def __init__(self, send: Callable[[int], object]) -> None:
        self.send = send
        self.keys: set[int] = set()

    def __call__(self) -> None:
        for key in sorted(self.keys):
            self.send(key)


def after_commit(send: Callable[[int], object], key: int | None) -> None:
    if key is None:
        return
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        send(key)
        return
    for _sids, func, _robust in conn.run_on_commit:
        if isinstance(func, _Batch) and func.send is send:
            func.keys.add(key)
            return
    batch = _Batch(send)
    batch.keys.add(key)
    transaction.on_commit(batch, robust=True)
