"""The carousel list: configuration and the live state its loop writes (CarouselRun)."""

from __future__ import annotations

import django_tables2 as tables
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html

from fus.models import Carousel, CarouselState
from fus.tables import SelectColumn

STATE_BADGES = {
    CarouselState.STOPPED: "badge-grey",
    CarouselState.STARTING: "badge-blue",
    CarouselState.RUNNING: "badge-green",
    CarouselState.STOPPING: "badge-amber",
    CarouselState.ERROR: "badge-red",
}


def human_bitrate(bps: float) -> str:
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bps >= scale:
            return f"{bps / scale:.3g} {unit}"
    return f"{bps:.0f} bit/s"


def heartbeat_age(run, now=None) -> float | None:
    """Seconds since the loop's last heartbeat (None: never)."""
    if run is None or run.heartbeat_at is None:
        return None
    return max(0.0, ((now or timezone.now()) - run.heartbeat_at).total_seconds())


def run_of(carousel: Carousel):
    try:
        return carousel.run
    except Carousel.run.RelatedObjectDoesNotExist:
        return None


def live_state(carousel: Carousel, now=None) -> dict:
    """The carousel's state as the detail page's JS and the JSON endpoint show it."""
    run = run_of(carousel)
    age = heartbeat_age(run, now)
    state = run.state if run else CarouselState.STOPPED
    stale = bool(
        carousel.desired_running
        and state in (CarouselState.RUNNING, CarouselState.STARTING)
        and age is not None
        and age > settings.CAROUSEL_STALE_SECONDS
    )
    return {
        "id": carousel.pk,
        "desired_running": carousel.desired_running,
        "state": state,
        "state_label": CarouselState(state).label,
        "stale": stale,
        "worker": run.worker if run else "",
        "started_at": run.started_at.isoformat() if run and run.started_at else None,
        "heartbeat_at": run.heartbeat_at.isoformat() if run and run.heartbeat_at else None,
        "heartbeat_age": None if age is None else round(age, 1),
        "restarts": run.restarts if run else 0,
        "content_version": run.content_version if run else 0,
        "cycles": run.cycles if run else 0,
        "packets": run.packets if run else 0,
        "bytes_sent": run.bytes_sent if run else 0,
        "errors": run.errors if run else 0,
        "bitrate_bps": round(run.bitrate_bps, 1) if run else 0.0,
        "bitrate": human_bitrate(run.bitrate_bps if run else 0.0),
        "rate_bps": carousel.rate_bps,
        "cycle_seconds": round(run.cycle_seconds, 3) if run else 0.0,
        "last_error": run.last_error if run else "",
    }


class CarouselTable(tables.Table):
    pk = SelectColumn()
    name = tables.Column(linkify=True)
    kind = tables.Column()
    channel = tables.Column(accessor="group", verbose_name="Group:port", order_by=("group", "port"))
    rate_bps = tables.Column(verbose_name="Rate")
    state = tables.Column(
        accessor="run__state", verbose_name="State", default=CarouselState.STOPPED
    )
    bitrate = tables.Column(accessor="run__bitrate_bps", verbose_name="Bitrate", default=0)
    cycles = tables.Column(accessor="run__cycles", verbose_name="Cycles", default=0)
    packets = tables.Column(accessor="run__packets", verbose_name="Packets", default=0)
    errors = tables.Column(accessor="run__errors", verbose_name="Errors", default=0)
    heartbeat = tables.Column(
        accessor="run__heartbeat_at", verbose_name="Last heartbeat", default=None, empty_values=()
    )

    class Meta:
        model = Carousel
        fields = (
            "pk",
            "name",
            "kind",
            "channel",
            "rate_bps",
            "state",
            "bitrate",
            "cycles",
            "packets",
            "errors",
            "heartbeat",
        )
        attrs = {"class": "table"}

    def render_channel(self, record):
        group = f"[{record.group}]" if ":" in record.group else record.group
        return f"{group}:{record.port}"

    def value_channel(self, record):
        return self.render_channel(record)

    def render_rate_bps(self, value):
        return human_bitrate(value)

    def render_state(self, record):
        state = live_state(record)
        label = state["state_label"] + (" (stale)" if state["stale"] else "")
        badge = "badge-red" if state["stale"] else STATE_BADGES.get(state["state"], "badge-grey")
        return format_html('<span class="badge {}">{}</span>', badge, label)

    def value_state(self, record):
        run = run_of(record)
        return run.state if run else CarouselState.STOPPED

    def render_bitrate(self, value):
        return human_bitrate(value)

    def render_heartbeat(self, record):
        age = heartbeat_age(run_of(record))
        return "—" if age is None else f"{age:.0f} s ago"

    def value_heartbeat(self, record):
        run = run_of(record)
        return run.heartbeat_at.isoformat() if run and run.heartbeat_at else ""
