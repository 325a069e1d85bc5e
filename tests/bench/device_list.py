"""The device list (`/devices/`) on PostgreSQL with 1,000,000 devices (issue #4, item 7).

Loads a million `acs.Device` rows with one `INSERT ... SELECT generate_series` into a database of
its own (default `rmsfus_bench_devices` on the local PostgreSQL; created if missing, dropped
afterwards unless `--keep`), then times whole page requests through Django's test client as a
help-desk user and as a supplier (the full view: restrict(), filters, keyset page, table, template):

* the first page, a page deep in the list reached by its keyset cursor, and the same depth read
  with OFFSET (what a numbered paginator would run) for comparison;
* filtered pages (SoftwareVersion, online, OUI + ProductClass), searches (exact serial, serial
  prefix, MAC), and a rare tag (the two last served by the indexes of migration acs 0006: a
  `varchar_pattern_ops` B-tree on `serial_number`, a GIN index on `tags`).

Goal: a deep keyset page costs what the first page costs; every page under 250 ms on this
shared machine. Writes docs/benchmarks/device-list.md.

    python -m tests.bench.device_list [--devices 1000000] [--repeat 5] [--keep]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.inventory import insert_devices

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "docs" / "benchmarks" / "device-list.md"
SERVER = "postgres://postgres@127.0.0.1:5432"
CLASSES = [("00D09E", "STB7100"), ("00D09E", "STB7200"), ("3C62F0", "HD400"), ("3C62F0", "UHD9")]
SERIAL_BASE = 10_000_000
MAC_BASE = 0x00D09E000000


def _database(name: str, *, drop: bool = False) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup_django(database: str) -> None:
    os.environ["DATABASE_URL"] = f"{SERVER}/{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _catalogue():
    """Two manufacturers with two classes each, the users who browse."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from fus.models import DeviceClass, Manufacturer
    from fus.services import catalogue

    users = {}
    for name, role in (("bench-helpdesk", "helpdesk"), ("bench-supplier", "supplier")):
        user, _ = get_user_model().objects.get_or_create(username=name)
        user.groups.set([Group.objects.get(name=role)])
        users[role] = user
    classes = []
    for oui in sorted({c[0] for c in CLASSES}):
        maker, _ = Manufacturer.objects.get_or_create(name=f"Bench {oui}")
        if not maker.ouis.exists():
            catalogue.set_manufacturer_ouis(maker, [oui])
        if oui == "00D09E":
            maker.members.add(users["supplier"])
    for oui, product_class in CLASSES:
        maker = Manufacturer.objects.get(name=f"Bench {oui}")
        dc, _ = DeviceClass.objects.get_or_create(
            manufacturer=maker, oui=oui, product_class=product_class
        )
        classes.append(dc.pk)
    return users, classes


def _load_devices(n: int, class_ids: list[int]) -> float:
    ouis = ",".join(f"'{c[0]}'" for c in CLASSES)
    product_classes = ",".join(f"'{c[1]}'" for c in CLASSES)
    ids = ",".join(str(pk) for pk in class_ids)
    explicit = {
        "oui": f"(ARRAY[{ouis}])[i %% 4 + 1]",
        "product_class": f"(ARRAY[{product_classes}])[i %% 4 + 1]",
        "device_class": f"(ARRAY[{ids}])[i %% 4 + 1]",
        "serial_number": f"({SERIAL_BASE} + i)::text",
        "serial_key": f"'0008' || ({SERIAL_BASE} + i)::text",
        "manufacturer": "'Bench'",
        "hardware_version": "(ARRAY['revA','revB'])[(i / 4) %% 2 + 1]",
        "software_version": "(ARRAY['1.0','1.1','1.2','2.0'])[(i / 8) %% 4 + 1]",
        "mac": f"{MAC_BASE} + i",
        "mac_address": f"lower(regexp_replace(lpad(to_hex({MAC_BASE} + i), 12, '0'), "
        "'(..)(?!$)', '\\1:', 'g'))",
        "ip_address": "('10.' || (i / 65536) %% 256 || '.' || (i / 256) %% 256 || '.' || i %% 256)::inet",
        "last_inform": "now() - (i %% 3600) * interval '1 second'",
        "online_until": "CASE WHEN i %% 2 = 0 THEN now() + interval '1 day' END",
        "tags": "CASE WHEN i %% 100000 = 7 THEN '[\"rare\"]'::jsonb ELSE '[\"fleet\"]'::jsonb END",
        "created": "now()",
        "updated": "now()",
    }
    return insert_devices(n, explicit)


def _time(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return min(runs), statistics.median(runs)


def _deep_cursor(queryset, depth: int) -> str:
    from acs.ui import keyset

    row = queryset.order_by(*keyset.ORDER)[depth - 1 : depth].get()
    return keyset.encode(keyset.key_of(row))


def measure(n: int, repeat: int, users) -> tuple[list[tuple], str]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from acs.models import Device
    from acs.ui import keyset

    setup_test_environment()  # response.context, and "testserver" as an allowed host
    helpdesk, supplier = Client(), Client()
    helpdesk.force_login(users["helpdesk"])
    supplier.force_login(users["supplier"])
    depth = n - 100  # near the end of the whole list
    serial = SERIAL_BASE + (2 * n) // 3
    prefix = str(serial)[:-3]  # 1,000 serials share it
    mac = f"{MAC_BASE + n // 3:012x}"
    mac = ":".join(mac[i : i + 2] for i in range(0, 12, 2))
    everything = Device.objects.all()
    deep = _deep_cursor(everything, depth)
    sw = everything.filter(software_version="1.2")
    deep_sw = _deep_cursor(sw, sw.count() - 100)
    own = everything.filter(oui="00D09E")
    deep_own = _deep_cursor(own, own.count() - 100)

    def page(client, query: str, expect: int | None = None):
        def run():
            response = client.get("/devices/?" + query)
            assert response.status_code == 200, response.status_code
            rows = len(response.context["page"].rows)
            if expect is not None:
                assert rows == expect, (query, rows)

        return run

    def offset_page():
        list(everything.order_by(*keyset.ORDER)[depth : depth + 51])

    cases = [
        ("help desk", "first page", "", page(helpdesk, "", 50)),
        (
            "help desk",
            f"keyset page after row {depth:,}",
            "after=…",
            page(helpdesk, f"after={deep}", 50),
        ),
        ("(query only)", f"OFFSET {depth:,} LIMIT 51, same order", "", offset_page),
        (
            "help desk",
            "SoftwareVersion 1.2, first page",
            "software_version=1.2",
            page(helpdesk, "software_version=1.2", 50),
        ),
        (
            "help desk",
            "SoftwareVersion 1.2, last page by keyset",
            "software_version=1.2&after=…",
            page(helpdesk, f"software_version=1.2&after={deep_sw}"),
        ),
        ("help desk", "online", "online=true", page(helpdesk, "online=true", 50)),
        (
            "help desk",
            "OUI + ProductClass",
            "oui=3C62F0&product_class=UHD9",
            page(helpdesk, "oui=3C62F0&product_class=UHD9", 50),
        ),
        (
            "help desk",
            "exact serial",
            f"q={serial}",
            page(helpdesk, f"q={serial}", 1),
        ),
        (
            "help desk",
            "serial prefix (1,000 matches)",
            f"q={prefix}*",
            page(helpdesk, f"q={prefix}*", 50),
        ),
        (
            "help desk",
            "serial prefix (10,000 matches)",
            f"q={prefix[:-1]}*",
            page(helpdesk, f"q={prefix[:-1]}*", 50),
        ),
        ("help desk", "MAC", f"q={mac}", page(helpdesk, f"q={mac}", 1)),
        (
            "help desk",
            "rare tag (1 in 100,000 devices)",
            "tag=rare",
            page(helpdesk, "tag=rare"),
        ),
        ("supplier", "first page (own manufacturer only)", "", page(supplier, "", 50)),
        ("supplier", "keyset page near its end", "after=…", page(supplier, f"after={deep_own}")),
    ]
    rows = []
    for who, label, query, fn in cases:
        best, median = _time(fn, repeat)
        rows.append((who, label, query, best, median))
        print(f"  {who:<12} {label:<45} best {best * 1000:8.1f} ms  median {median * 1000:8.1f} ms")
    from django.contrib.auth import get_user_model
    from django.http import QueryDict

    from acs.ui.filtersets import DeviceFilterSet, narrowed
    from acs.ui.keyset import _beyond
    from acs.ui.tables import FIELDS

    def explain(queryset, analyze=True) -> tuple[float, str]:
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(("EXPLAIN ANALYZE " if analyze else "EXPLAIN ") + sql, params)
            lines = [r[0] for r in cursor.fetchall()]
        ms = next((float(x.split()[-2]) for x in lines if x.startswith("Execution Time")), 0.0)
        return ms, "\n".join(x for x in lines if not x.startswith(("Planning", "Execution")))

    def searched(query: str):
        filtered = DeviceFilterSet(QueryDict(query), queryset=listed).qs
        return filtered.order_by(*ordered)[:51]

    supplier_user = get_user_model().objects.get(username="bench-supplier")
    listed = everything.only(*FIELDS)
    own_rows = narrowed(Device.objects.restrict(supplier_user, "view"), supplier_user).only(*FIELDS)
    ordered = keyset.ORDER
    queries = [
        ("first page", listed.order_by(*ordered)[:51]),
        (
            f"after row {depth:,}",
            listed.filter(_beyond(keyset.decode(deep), "gt")).order_by(*ordered)[:51],
        ),
        (f"OFFSET {depth:,}", listed.order_by(*ordered)[depth : depth + 51]),
        (
            "SoftwareVersion 1.2, last page",
            listed.filter(software_version="1.2")
            .filter(_beyond(keyset.decode(deep_sw), "gt"))
            .order_by(*ordered)[:51],
        ),
        (
            "supplier, last page",
            own_rows.filter(_beyond(keyset.decode(deep_own), "gt")).order_by(*ordered)[:51],
        ),
        (f"serial prefix `{prefix}*`", searched(f"q={prefix}*")),
        (f"serial prefix `{prefix[:-1]}*`", searched(f"q={prefix[:-1]}*")),
        ("rare tag", searched("tag=rare")),
    ]
    timings = []
    for label, queryset in queries:
        runs = [explain(queryset)[0] for _ in range(3)]
        timings.append((label, min(runs), statistics.median(runs)))
        print(f"  query only   {label:<45} best {min(runs):8.1f} ms")
    plans = {
        "the deep keyset page (all devices, help desk)": explain(queries[1][1], analyze=False)[1],
        f"the serial prefix `q={prefix}*`": explain(queries[-3][1])[1],
        f"the broader serial prefix `q={prefix[:-1]}*`": explain(queries[-2][1])[1],
        "the rare tag `tag=rare`": explain(queries[-1][1])[1],
    }
    rows.append(("timings", timings))
    return rows, plans


# What the two filters cost before migration acs 0006, kept so the report shows what it changed.
BEFORE_INDEXES = (
    "Before migration acs 0006 (2026-11-21, same inventory): the serial prefix `q=10666*` took "
    "254.8 ms best / 310.0 ms median per request (01:29 UTC run of this benchmark; load average "
    "not recorded) and 70.3 / 72.9 ms as a query alone (`EXPLAIN ANALYZE` at 03:49 UTC, load "
    "average 10.9: a parallel sequential scan of the million rows); the rare tag 465.0 / 471.7 ms "
    "per request and 136.2 / 138.4 ms as a query (the same scan, testing "
    "`tags @> '[\"rare\"]'` on every row). Both were over the goal."
)

# Not in the timed cases (the inventory spreads every serial prefix over all four classes).
KNOWN_LIMIT = (
    "Known limit, not fixed: a broad serial prefix (thousands of matches or more) is served by "
    "walking the list-order index until a page is found, since the planner assumes the matches "
    "are spread evenly. When they are all in a device class late in the list order, the walk "
    "reads every earlier row: tried by hand on this database with 50,000 boxes of the last "
    "class renamed `X…`, `q=X*` took 411 ms best / 454 ms median as a query alone (750,000 rows "
    "read and dropped), over the goal; a narrow prefix of the same boxes (`X1000*`, 2,500 "
    "matches) still takes the pattern index, 1 ms. On a freshly loaded table the GIN index also "
    "holds a pending list of the inserted rows until VACUUM (or autovacuum) merges it, which the "
    "tag query reads as well: a few ms here, 0.02 ms after VACUUM."
)


def report(n: int, load: float, rows, plans: dict[str, str], repeat: int, loadavg) -> None:
    try:
        pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pg = "PostgreSQL"
    lines = [
        f"# Device list on PostgreSQL, {n:,} devices",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} CPUs, shared and noisy), {pg}, Python {platform.python_version()}. "
        f"Load average (1 min) {loadavg[0]:.1f} before the timings, {loadavg[1]:.1f} after.",
        "Command: `make bench` (or `python -m tests.bench.device_list`). The code measured is "
        "`acs/ui/views.py` + `acs/ui/keyset.py` + `acs/ui/filtersets.py`, through Django's test "
        "client (whole request: session, restrict(), filters, the page query, table, template).",
        "",
        f"Inventory: {n:,} `acs.Device` rows over 4 device classes of 2 manufacturers, loaded "
        f"with one INSERT ... SELECT{f' in {load:.1f} s' if load else ' (by an earlier --keep run)'}, "
        "then ANALYZE. The supplier is a member of "
        "one manufacturer (half of the devices).",
        "",
        "Goal: a keyset page deep in the list costs what the first page costs (no OFFSET scan), every page under 250 ms on this shared machine, and no page counts the table.",
        "",
        f"| who | page | query | best | median of {repeat} |",
        "|---|---|---|---:|---:|",
    ]
    timings = next((r[1] for r in rows if r[0] == "timings"), [])
    rows = [r for r in rows if r[0] != "timings"]
    pages = [r for r in rows if r[0] != "(query only)"]
    over = [
        f"{who}: {label} ({median * 1000:.0f} ms)"
        for who, label, _, _, median in pages
        if median > 0.25
    ]
    verdict = (
        f"Against the goal: {len(pages) - len(over)} of {len(pages)} pages have a median under "
        "250 ms"
        + (f"; over it: {'; '.join(over)}." if over else ", that is every page.")
        + " (The OFFSET row is not a page the list serves.)"
    )
    for who, label, query, best, median in rows:
        lines.append(
            f"| {who} | {label} | `{query or '—'}` | {best * 1000:.1f} ms | {median * 1000:.1f} ms |"
        )
    lines += [
        "",
        "The OFFSET row is the query alone (no request around it): what a numbered paginator "
        "pays at that depth before rendering anything. The keyset page at the same depth is "
        "served whole in the time shown above it.",
        "",
        "Every filter measured is served by an index. A serial prefix (`serial_number LIKE "
        "'x%'`) uses `acs_device_sn_like_idx`, a `varchar_pattern_ops` B-tree (the database's "
        "collation is a locale one, under which a plain B-tree cannot serve LIKE; the pattern "
        "opclass also serves the exact serial), and a tag (`tags @> '[\"x\"]'`) uses "
        "`acs_device_tags_gin_idx`, a GIN `jsonb_path_ops` index; both are made by migration "
        "acs 0006. A broad prefix (thousands of matches or more) is instead served by walking "
        "the list-order index and stopping after a page, which the planner picks from the "
        "prefix's estimated selectivity.",
        "",
        BEFORE_INDEXES,
        "",
        verdict,
        "",
        KNOWN_LIMIT,
        "",
        "The page queries alone, on the server (`EXPLAIN ANALYZE` execution time, best and "
        "median of 3): less disturbed by the machine's load than whole requests.",
        "",
        "| query | best | median |",
        "|---|---:|---:|",
        *(f"| {label} | {best:.2f} ms | {median:.2f} ms |" for label, best, median in timings),
        "",
    ]
    for title, plan in plans.items():
        lines += [f"Plan of {title}:", "", "```text", plan, "```", ""]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines))
    print(f"wrote {REPORT.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", default="rmsfus_bench_devices")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    from django.conf import settings

    if settings.configured:  # another benchmark of `make bench` set Django up on its own database
        command = [sys.executable, "-m", "tests.bench.device_list", *(argv or [])]
        return subprocess.run(command, cwd=ROOT, check=False).returncode
    _database(args.database)
    try:
        _setup_django(args.database)
        users, classes = _catalogue()
        from acs.models import Device

        if Device.objects.count() != args.devices:
            print(f"loading {args.devices:,} devices ...")
            load = _load_devices(args.devices, classes)
        else:
            load = 0.0
        print(f"device list, {args.devices:,} devices:")
        before = os.getloadavg()[0]
        rows, plans = measure(args.devices, args.repeat, users)
        report(args.devices, load, rows, plans, args.repeat, (before, os.getloadavg()[0]))
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _database(args.database, drop=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
