"""What the progress page, its websocket, the REST API and the supplier portal show of a rollout:
one snapshot, read with the viewer's permissions (None: not theirs to see)."""

from __future__ import annotations

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from fus.models import Rollout
from fus.rollouts import engine
from fus.rollouts.choices import DeviceState, GateMode, RolloutStatus, WaveState
from portal.permissions import can

CHART_POINTS = 300
ALL_CONTROLS = ("start", "pause", "resume", "deactivate", "retry-failed", "cancel")


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def controls(rollout: Rollout, user) -> list[str]:
    """The controls `user` may use on the rollout now."""
    if not can(user, Rollout, "operate"):
        return []
    s = rollout.status
    out = []
    if s == RolloutStatus.DRAFT:
        out += ["start"]
    if s == RolloutStatus.RUNNING:
        out += ["pause"]
    if s in (RolloutStatus.PAUSED, RolloutStatus.HALTED):
        out += ["resume"]
    if s in (RolloutStatus.RUNNING, RolloutStatus.PAUSED, RolloutStatus.HALTED):
        out += ["deactivate"]
    if s in (
        RolloutStatus.RUNNING,
        RolloutStatus.PAUSED,
        RolloutStatus.HALTED,
        RolloutStatus.COMPLETED,
    ):
        out += ["retry-failed"]
    if s in (
        RolloutStatus.DRAFT,
        RolloutStatus.RUNNING,
        RolloutStatus.PAUSED,
        RolloutStatus.HALTED,
    ):
        out += ["cancel"]
    return out


def wave_rows(rollout: Rollout) -> list[dict]:
    counts: dict[int, dict[str, int]] = {}
    for wave, state, n in (
        rollout.members.values_list("wave", "state").annotate(n=Count("pk")).order_by()
    ):
        counts.setdefault(wave, {})[state] = n
    rows = []
    for wave in rollout.waves.all():
        c = {s: counts.get(wave.number, {}).get(s, 0) for s in DeviceState.values}
        if wave.released_at is None:  # no member rows before the release: all planned, pending
            c[DeviceState.PENDING] += wave.size
        outcomes = c["succeeded"] + c["failed"] + c["timed_out"]
        rows.append(
            {
                "number": wave.number,
                "name": wave.name,
                "size": wave.size,
                "state": wave.state,
                "released_at": _iso(wave.released_at),
                "finished_at": _iso(wave.finished_at),
                "approved_at": _iso(wave.approved_at),
                "counts": c,
                "success_rate": round(100.0 * c["succeeded"] / outcomes, 1) if outcomes else None,
            }
        )
    return rows


def awaiting_approval(rollout: Rollout, waves: list[dict]) -> int | None:
    """The wave waiting for an approval (gate "approval"), if any."""
    if rollout.gate != GateMode.APPROVAL or rollout.status not in (
        RolloutStatus.RUNNING,
        RolloutStatus.PAUSED,
    ):
        return None
    nxt = rollout.current_wave + 1
    if rollout.current_wave < 0 or nxt >= len(waves):
        return None
    if waves[nxt]["state"] == WaveState.PENDING and waves[nxt]["approved_at"] is None:
        return nxt
    return None


def snapshot(rollout_id: int, user) -> dict | None:
    rollout = (
        Rollout.objects.restrict(user, "view")
        .select_related("package")
        .filter(pk=rollout_id)
        .first()
    )
    if rollout is None:
        return None
    now = timezone.now()
    waves = wave_rows(rollout)
    totals = {s: sum(w["counts"][s] for w in waves) for s in DeviceState.values}
    unknown = rollout.members.filter(device__isnull=True).count()
    window = engine.window_counts(rollout, now=now)
    samples = list(
        rollout.samples.order_by("-at").values(
            "at", "pending", "in_flight", "succeeded", "failed", "timed_out", "failure_rate"
        )[:CHART_POINTS]
    )
    samples.reverse()
    return {
        "id": rollout.pk,
        "name": rollout.name,
        "package": str(rollout.package),
        "software_version": rollout.package.software_version,
        "status": rollout.status,
        "status_label": rollout.get_status_display(),
        "halt_reason": rollout.halt_reason,
        "current_wave": rollout.current_wave,
        "awaiting_approval": awaiting_approval(rollout, waves),
        "waves": waves,
        "totals": totals,
        "members": sum(totals.values()),
        "outside_inventory": unknown,
        "stop_rule": {
            "failure_rate": None if window.rate is None else round(window.rate, 1),
            "threshold": rollout.failure_threshold,
            "sample": window.sample,
            "min_sample": rollout.min_sample,
            "window_minutes": rollout.failure_window_minutes,
            "confirmed": window.confirmed,
            "silent": window.silent,
            "count_timeouts": rollout.count_timeouts,
        },
        "samples": [{**s, "at": s["at"].isoformat()} for s in samples],
        "controls": controls(rollout, user),
        "last_tick": _iso(rollout.last_tick),
        "at": now.isoformat(),
        "poll_url": reverse("rollouts:live", args=[rollout.pk]),
    }
