"""Planning a rollout over 1,000,000 devices on PostgreSQL (issue #7; goal: under 5 s).

Loads a million `acs.Device` rows (the targeting benchmark's loader: four device classes, serials
10000000.., MACs) into a database of its own (`rmsfus_bench_rollouts`, dropped afterwards unless
`--keep`), one approved package targeting all four classes, then measures

* planning (`fus.rollouts.plan.plan`: one COUNT and one INSERT ... SELECT with ROW_NUMBER() over
  the hash or serial order) for a five-stage plan, spread and serial assignment;
* releasing the released serial ranges for the QRC/multicast gate at 50 % (`gate.write_ranges`),
  both assignments;
* one engine tick that releases the canary and queues 500 managed Downloads (`engine.tick`);
* `gate.allowed(package, identity)` per QRC check (median, p95 over random boxes).

Writes docs/benchmarks/rollouts.md.

    python -m tests.bench.rollouts [--devices 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.targeting import (
    CLASSES,
    SERIAL_BASE,
    _drop_database,
    _ensure_database,
    _load_devices,
    _setup_django,
)

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "docs" / "benchmarks" / "rollouts.md"
STAGES = [
    {"name": "canary", "count": 100},
    {"percent": 1},
    {"percent": 10},
    {"percent": 39},
    {"percent": 50},
]


def _package():
    from acs.models import Device
    from fus.choices import FirmwareStatus
    from fus.metadata import model as m
    from fus.models import DeviceClass, FirmwarePackage, FirmwareTarget, Manufacturer, Rollout
    from fus.services import catalogue
    from fus.services.targeting import write_target_devices

    Rollout.objects.all().delete()
    FirmwarePackage.objects.all().delete()
    DeviceClass.objects.all().delete()
    Manufacturer.objects.all().delete()
    maker = Manufacturer.objects.create(name="Bench")
    catalogue.set_manufacturer_ouis(maker, sorted({c[0] for c in CLASSES}))
    classes = {
        c: DeviceClass.objects.create(manufacturer=maker, oui=c[0], product_class=c[1])
        for c in CLASSES
    }
    package = FirmwarePackage.objects.create(
        manufacturer=maker,
        software_version="9.0",
        package_name="bench-rollout",
        status=FirmwareStatus.APPROVED,
    )
    package.device_classes.set(classes.values())
    for dc in classes.values():
        FirmwareTarget.objects.create(package=package, device_class=dc, software_version="9.0")
        Device.objects.filter(oui=dc.oui, product_class=dc.product_class).update(device_class=dc)
    write_target_devices(
        package,
        m.TargetDevices(device_classes=tuple(m.DeviceClass(*c) for c in CLASSES)),
        classes,
    )
    return package


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def run(devices: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from fus.metadata.targeting import DeviceIdentity
    from fus.models import Rollout
    from fus.rollouts import engine, gate, plan, services

    result: dict = {"devices": devices, "started": datetime.now(UTC)}
    result["load_s"] = _load_devices(devices)
    package = _package()
    user, _ = get_user_model().objects.get_or_create(username="bench-noc", is_superuser=True)
    spec = {"name": "bench", "channels": ["managed", "unmanaged"], "stages": STAGES}
    # create_rollout plans once (the first, cold planning is reported too)
    cold, rollout = _timed(lambda: services.create_rollout(package, spec, actor=user))
    result["create_s"] = cold
    result["waves"] = list(rollout.waves.values_list("name", "size"))
    for assignment in ("spread", "serial"):
        Rollout.objects.filter(pk=rollout.pk).update(assignment=assignment)
        rollout.refresh_from_db()
        times = []
        for _ in range(3):
            seconds, _ = _timed(lambda: plan.plan(rollout))
            times.append(seconds)
        result[f"plan_{assignment}_s"] = times
        Rollout.objects.filter(pk=rollout.pk).update(current_wave=3)  # 50 % released
        rollout.refresh_from_db()
        seconds, ranges = _timed(lambda: gate.write_ranges(rollout))
        result[f"ranges_{assignment}_s"] = seconds
        result[f"ranges_{assignment}_n"] = ranges
    # gate lookups against the serial ranges (status running, half released)
    Rollout.objects.filter(pk=rollout.pk).update(status="running")
    rng = random.Random(3)
    lookups = []
    for _ in range(2000):
        i = rng.randrange(devices)
        oui, pc = CLASSES[i % 4]
        identity = DeviceIdentity(oui, pc, "revA", "1.0", str(SERIAL_BASE + i))
        started = time.perf_counter()
        gate.allowed(package, identity)
        lookups.append(time.perf_counter() - started)
    lookups.sort()
    result["gate_median_ms"] = statistics.median(lookups) * 1000
    result["gate_p95_ms"] = lookups[int(len(lookups) * 0.95)] * 1000
    # one engine tick from a fresh plan: release the canary, queue 500 Downloads (managed)
    Rollout.objects.filter(pk=rollout.pk).update(
        status="draft",
        current_wave=-1,
        assignment="spread",
        channels=["managed"],
        starts_per_minute=100_000,
        max_concurrent=100_000,
        stages=[{"name": "canary", "count": 500}, {"percent": 100}],
    )
    rollout.refresh_from_db()
    plan.plan(rollout)
    Rollout.objects.filter(pk=rollout.pk).update(status="running", started_at=timezone.now())
    from django.conf import settings

    settings.FUS_DOWNLOAD_BASE_URL = "https://fus.example.net/firmware/"
    from fus.models import FirmwareFile

    if not package.files.exists():
        FirmwareFile.objects.create(
            package=package, file_name="image.bin", size=1, sha256="0" * 64, file="firmware/x"
        )
    seconds, tick = _timed(lambda: engine.tick(rollout.pk))
    result["tick_s"] = seconds
    result["tick_dispatched"] = tick.dispatched if tick else 0
    return result


def report(r: dict) -> str:
    def fmt(times):
        return f"{statistics.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"

    lines = [
        "# Benchmark: planning a rollout over 1,000,000 devices",
        "",
        f"Run {r['started']:%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} CPUs, "
        "shared with other engineers), PostgreSQL on localhost.",
        "",
        "Command: `python -m tests.bench.rollouts` (part of `make bench`).",
        "",
        f"Inventory: {r['devices']:,} devices in 4 device classes, loaded in {r['load_s']:.1f} s; "
        "one approved package targeting the 4 classes.",
        f"Plan: {', '.join(f'{n} {s:,}' for n, s in r['waves'])}.",
        "",
        "| what | time | goal |",
        "|---|---|---|",
        f"| create a draft (validation + first planning, cold) | {r['create_s']:.2f} s | |",
        f"| plan again, spread (hash) assignment | {fmt(r['plan_spread_s'])} | under 5 s |",
        f"| plan again, serial-block assignment | {fmt(r['plan_serial_s'])} | under 5 s |",
        f"| released ranges at 50 %, spread: {r['ranges_spread_n']:,} ranges "
        f"| {r['ranges_spread_s']:.2f} s | |",
        f"| released ranges at 50 %, serial: {r['ranges_serial_n']:,} ranges "
        f"| {r['ranges_serial_s']:.2f} s | |",
        f"| `gate.allowed` per QRC check (median / p95) | {r['gate_median_ms']:.2f} / "
        f"{r['gate_p95_ms']:.2f} ms | |",
        f"| one engine tick: release the canary, queue {r['tick_dispatched']} Downloads "
        f"| {r['tick_s']:.2f} s | |",
        "",
        "Planning is one COUNT and one `INSERT ... SELECT` numbering the population with "
        "`ROW_NUMBER()`; no device row passes through Python. Released ranges are one ordered "
        "pass over the members in Python (spread assignment makes one range per released run, "
        "i.e. about one per box; serial assignment a few per class — prefer it for unmanaged "
        "populations). A tick's cost is dominated by `push_firmware` per box (one Task row, "
        "its checks and the audit-free insert): about the dispatch batch (500) per tick.",
        "",
        "Not measured yet: the wall time of a 10,000-box managed rollout with cpesim.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--database", default="rmsfus_bench_rollouts")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    _ensure_database(args.database)
    try:
        _setup_django(args.database)
        result = run(args.devices)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _drop_database(args.database)
    text = report(result)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
