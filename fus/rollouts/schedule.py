"""Maintenance windows: recurring weekly time ranges in a time zone (zoneinfo).

A window is ``{"days": [0, 1, ...], "start": "HH:MM", "end": "HH:MM"}`` with Monday = 0 (days
omitted = every day). ``start > end`` crosses midnight: ``22:00``-``04:00`` on Friday is open from
Friday 22:00 to Saturday 04:00. ``start == end`` is the whole day. Local times are wall-clock times
of the zone, so a window keeps its local hours across DST changes. No windows = always open.
Pure functions (no Django) so that they can be tested exhaustively.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)


class WindowError(ValueError):
    """A malformed window or time zone; the text names the window and the value."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise WindowError(f"time zone {name!r} is not a known IANA zone") from exc


def _hhmm(value, where: str) -> time:
    if not isinstance(value, str) or not (match := _HHMM.fullmatch(value)):
        raise WindowError(f"{where}: {value!r} is not a time HH:MM (00:00-23:59)")
    return time(int(match[1]), int(match[2]))


def parse_windows(windows, *, field: str = "windows") -> list[tuple[tuple[int, ...], time, time]]:
    """Check and normalise windows; WindowError naming the window index and the bad value."""
    if windows in (None, ""):
        return []
    if not isinstance(windows, list):
        raise WindowError(f"{field}: expected a list of windows, got {windows!r}")
    out = []
    for index, window in enumerate(windows):
        where = f"{field}[{index}]"
        if not isinstance(window, dict):
            raise WindowError(f"{where}: expected an object with days, start, end")
        unknown = set(window) - {"days", "start", "end"}
        if unknown:
            raise WindowError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        days = window.get("days", list(ALL_DAYS))
        if (
            not isinstance(days, list)
            or not days
            or any(isinstance(d, bool) or d not in ALL_DAYS for d in days)
        ):
            raise WindowError(f"{where}.days: {days!r} is not a list of weekdays 0-6 (Monday = 0)")
        start = _hhmm(window.get("start"), f"{where}.start")
        end = _hhmm(window.get("end"), f"{where}.end")
        out.append((tuple(sorted(set(days))), start, end))
    return out


def is_open(windows, time_zone: str, at: datetime) -> bool:
    """Whether `at` (aware) falls in one of the windows (always, without windows)."""
    parsed = parse_windows(windows)
    if not parsed:
        return True
    local = at.astimezone(zone(time_zone))
    clock = local.time().replace(tzinfo=None)
    today = local.weekday()
    yesterday = (today - 1) % 7
    for days, start, end in parsed:
        if start == end:
            if today in days:
                return True
        elif start < end:
            if today in days and start <= clock < end:
                return True
        else:  # crosses midnight
            if (today in days and clock >= start) or (yesterday in days and clock < end):
                return True
    return False


def next_open(windows, time_zone: str, at: datetime, *, horizon_days: int = 8) -> datetime | None:
    """The first minute at or after `at` when a window is open (None if never within the
    horizon). Minute resolution: windows are given in minutes."""
    if is_open(windows, time_zone, at):
        return at
    probe = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = at + timedelta(days=horizon_days)
    while probe <= end:
        if is_open(windows, time_zone, probe):
            return probe
        probe += timedelta(minutes=1)
    return None
