"""QRC checks per second on PostgreSQL, against the targeting data of a 1,000,000-device population.

The catalogue is the targeting benchmark's (`tests.bench.targeting._catalogue`: 44 approved
packages over 4 device classes whose RangeLists, item lists, exclusions, version lists and 200
rollout-like waves cover serials 10000000..10999999), made unmanaged and given one file each; a
default FUS entity with a unicast and a multicast location. Boxes are drawn from the same million
(class, hardware, software, serial, MAC as the targeting benchmark's inventory formula), so about
half of the checks find updates.

Figures:

* in process, one process: wall time per check through Django's full stack (test client, all
  middleware, spyne parsing and lxml schema validation, the targeting index, the answer), then CPU
  time per check (`time.process_time`, not disturbed by the machine's load) through the test
  client, through the bare view, for the answers alone and for a trivial request; queries per check;
* over HTTP: uvicorn with `--workers N` on loopback, `wrk` first against the trivial view of the
  same server (PUT /qrc -> 405: the ceiling), then posting 5,000 distinct envelopes round-robin;
  the workers' CPU time per request from /proc (`wrk` is installed from apt when absent and
  running as root).

Goal: at least 2,000 checks/s. Writes docs/benchmarks/qrc.md (`--output`).

    python -m tests.bench.qrc [--checks 3000] [--duration 20] [--workers 2] [--connections 32]
                              [--database rmsfus_bench_qrc] [--keep] [--no-http] [--output FILE]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.bench import procstat

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "docs" / "benchmarks" / "qrc.md"
DATABASE = "rmsfus_bench_qrc"
POPULATION = 1_000_000

ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:q="urn:rms-fus-portal:qrc:1"><s:Body><q:FirmwareUpdateCheck>'
    "<q:ManufacturerOUI>{oui}</q:ManufacturerOUI><q:ProductClass>{pc}</q:ProductClass>"
    "<q:HardwareVersion>{hw}</q:HardwareVersion><q:SoftwareVersion>{sw}</q:SoftwareVersion>"
    "<q:SerialNumber>{serial}</q:SerialNumber><q:MACAddress>{mac}</q:MACAddress>"
    "</q:FirmwareUpdateCheck></s:Body></s:Envelope>"
)


def box(i: int) -> dict[str, str]:
    """Device i of the population, by the targeting benchmark's inventory formula."""
    from tests.bench.targeting import CLASSES, MAC_BASE, SERIAL_BASE

    oui, pc = CLASSES[i % 4]
    mac = f"{MAC_BASE + i:012x}"
    return {
        "oui": oui,
        "pc": pc,
        "hw": ["revA", "revB"][(i // 4) % 2],
        "sw": ["1.0", "1.1", "1.2", "2.0"][(i // 8) % 4],
        "serial": str(SERIAL_BASE + i),
        "mac": ":".join(mac[k : k + 2] for k in range(0, 12, 2)),
    }


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=True)
        return shutil.which("wrk") or "/usr/bin/wrk"
    raise SystemExit("wrk is not installed (apt-get install wrk) and cannot be installed")


def prepare() -> dict:
    from django.db import connection

    from fus.choices import MetadataMode
    from fus.models import FirmwareFile, FirmwarePackage, FusEntity, ServiceLocation
    from fus.models.entities import LocationKind
    from tests.bench.targeting import _catalogue

    started = time.perf_counter()
    _catalogue()
    FusEntity.objects.all().delete()
    FirmwarePackage.objects.update(mode=MetadataMode.UNMANAGED)
    FirmwareFile.objects.bulk_create(
        FirmwareFile(
            package=p,
            file_name=f"{p.package_name}.img",
            file=f"firmware/{p.manufacturer_id}/{p.pk}/{p.package_name}.img",
            size=48 * 1024 * 1024,
            sha256=f"{p.pk:064x}",
        )
        for p in FirmwarePackage.objects.all()
    )
    fus = FusEntity.objects.create(name="Bench FUS", fus_id="1", is_default=True)
    ServiceLocation.objects.create(
        fus=fus, kind=LocationKind.UNICAST, url="https://fus.example.net", preference=1
    )
    ServiceLocation.objects.create(
        fus=fus,
        kind=LocationKind.MULTICAST,
        url="dvb-mcast://10.0.0.1@239.1.1.1:5000?payload=mp2t",
        preference=2,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM fus_targetentry")
        entries = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM fus_rangeentry")
        ranges = cursor.fetchone()[0]
        cursor.execute("ANALYZE")
    return {
        "packages": FirmwarePackage.objects.count(),
        "entries": entries,
        "ranges": ranges,
        "seconds": time.perf_counter() - started,
    }


def _identities(indices: list[int]):
    from fus.metadata.targeting import DeviceIdentity

    return [
        DeviceIdentity(b["oui"], b["pc"], b["hw"], b["sw"], b["serial"], b["mac"])
        for b in map(box, indices)
    ]


def _cpu_ms(fn, items) -> float:
    """CPU time of this process per item (ms): not disturbed by other processes' load."""
    started = time.process_time()
    for item in items:
        fn(item)
    return 1000 * (time.process_time() - started) / len(items)


def in_process(indices: list[int]) -> dict:
    """One process: wall time per check through the test client, then CPU per check (process
    time, the noise-free figure) through the test client (full middleware), through the bare view
    (`RequestFactory` -> `fus.qrc.views.qrc_endpoint`: spyne + answers), for the answers alone
    (`fus.qrc.answers.firmware_update_check`) and for a trivial request through the same stack
    (PUT /qrc -> 405: middleware, URL resolution, no database); queries per check."""
    from django.db import connection
    from django.test import Client, RequestFactory
    from django.test.utils import override_settings
    from django.utils import timezone

    from fus.qrc.answers import firmware_update_check
    from fus.qrc.views import qrc_endpoint

    with override_settings(ALLOWED_HOSTS=["*"], FUS_QRC_MODE="unmanaged"):
        client = Client()
        bodies = [ENVELOPE.format(**box(i)).encode() for i in indices]

        def check(body: bytes):
            return client.post("/qrc", body, content_type="text/xml")

        for body in bodies[:200]:  # warm up (caches, connection)
            check(body)
        times, with_updates, statements = [], 0, []

        def count(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        # (an execute wrapper, not CaptureQueriesContext: each request resets the queries log)
        with connection.execute_wrapper(count):
            for body in bodies:
                started = time.perf_counter()
                response = check(body)
                times.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(
                        f"QRC answered {response.status_code}: {response.content[:500]!r}"
                    )
                with_updates += b"SoftwareVersion>" in response.content
        client_cpu = _cpu_ms(check, bodies)
        factory = RequestFactory()
        requests = [factory.post("/qrc", body, content_type="text/xml") for body in bodies]
        view_cpu = _cpu_ms(qrc_endpoint, requests)
        identities = _identities(indices)
        answers_cpu = _cpu_ms(
            lambda identity: firmware_update_check(
                identity, at=timezone.now(), origin="http://testserver", box="x"
            ),
            identities,
        )
        # Django logs every 405 as a warning: not part of a request's cost (off for this run)
        request_log = logging.getLogger("django.request")
        level = request_log.level
        request_log.setLevel(logging.ERROR)
        try:
            trivial_cpu = _cpu_ms(lambda body: client.put("/qrc", body), bodies)
        finally:
            request_log.setLevel(level)
    times.sort()
    return {
        "checks": len(times),
        "with_updates": with_updates,
        "per_s": len(times) / sum(times),
        "median_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(len(times) * 0.95)] * 1000,
        "queries": len(statements) / len(times),
        "client_cpu_ms": client_cpu,
        "view_cpu_ms": view_cpu,
        "answers_cpu_ms": answers_cpu,
        "trivial_cpu_ms": trivial_cpu,
    }


LUA = """
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, "/qrc", nil, bodies[i])
end
"""

# The trivial view of the same server: PUT /qrc -> 405 (all middleware, URL resolution, the QRC
# view's method check; no spyne, no database): the server's ceiling for a request.
TRIVIAL_LUA = """
wrk.method = "PUT"
wrk.path = "/qrc"
wrk.body = "x"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wrk(wrk: str, script: Path, url: str, *, connections: int, duration: int) -> dict:
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    return {
        "per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "p50": latency.get("50", "?"),
        "p99": latency.get("99", "?"),
        "raw": out.strip(),
    }


#: The two ways to serve /qrc: the portal's ASGI application (Django's handler, all middleware)
#: and the QRC's own lean entry (`fus.qrc.asgi`: the same view, no middleware).
APPS = {"portal": "portal.asgi:application", "lean": "fus.qrc.asgi:application"}


def over_http(
    indices: list[int],
    *,
    app: str,
    workers: int,
    duration: int,
    connections: int,
    database: str,
) -> dict:
    """uvicorn `app` --workers N on loopback, wrk with keep-alive connections: first the trivial
    view, then the QRC (5,000 distinct envelopes round-robin). The workers' CPU time (from /proc)
    per request is the server's CPU per check, whatever else the machine runs."""
    import requests

    wrk = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="bench-qrc-"))
    bodies = work / "bodies.txt"
    bodies.write_text("\n".join(ENVELOPE.format(**box(i)) for i in indices) + "\n")
    script = work / "qrc.lua"
    script.write_text(LUA % {"bodies": bodies})
    trivial_script = work / "trivial.lua"
    trivial_script.write_text(TRIVIAL_LUA)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    from tests.bench.targeting import SERVER

    env = {
        **os.environ,
        # Under ASGI each request runs in a fresh thread: without a pool every check opens a
        # PostgreSQL connection (CONN_MAX_AGE only leaks them). psycopg_pool, N per process.
        "DATABASE_URL": f"{SERVER}/{database}",
        "DATABASE_POOL_SIZE": "8",
        "FUS_QRC_MODE": "unmanaged",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PORTAL_VAR_DIR": str(work / "var"),
        "LOG_LEVEL": "ERROR",  # not a warning line per 405 of the trivial view
    }
    log = open(work / "uvicorn.log", "w")  # noqa: SIM115
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    server = subprocess.Popen(
        [
            uvicorn,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
            app,
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    results = {}
    try:
        for _ in range(300):
            try:
                requests.get(f"{url}/qrc?wsdl", timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        # warm every worker's connection, caches and spyne application
        _wrk(wrk, script, url, connections=connections, duration=3)
        worker_pids = procstat.children(server.pid)
        for name, lua in (("trivial", trivial_script), ("qrc", script)):
            cpu_before = sum(map(procstat.cpu, worker_pids))
            result = _wrk(wrk, lua, url, connections=connections, duration=duration)
            cpu = sum(map(procstat.cpu, worker_pids)) - cpu_before
            result["server_cpu_ms"] = 1000 * cpu / max(result["requests"], 1)
            results[name] = result
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    shutil.rmtree(work, ignore_errors=True)
    return results


#: The code before this round of hot-path work (commit cdf6f12: the in-memory targeting index
#: already there; locations queried per check, answers serialised by spyne), measured with this
#: harness (`git worktree` of the commit, this file copied in) on the same machine.
BEFORE = {
    "commit": "cdf6f12",
    "when": "on 2026-11-21 03:32-03:34 UTC (`--checks 3000 --duration 20 --workers 2 "
    "--connections 32 --no-lean`)",
    "queries": 0.493,
    "client_cpu_ms": 1.004,
    "view_cpu_ms": 0.796,
    "answers_cpu_ms": 0.356,
    "trivial_cpu_ms": 0.155,
    "http_per_s": 429,
    "http_trivial_per_s": 846,
    "http_server_cpu_ms": 2.64,
    "load": "20.3 at the start, 13.4 at the end",
}


def _f(value, fmt: str = ".3f") -> str:
    return "n/a" if value is None else format(value, fmt)


def report(args, data: dict, local: dict, http: dict | None, loads: tuple) -> str:
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    cores = os.cpu_count() or 1
    per_core = 1000 / local["client_cpu_ms"]
    command = (
        f"python -m tests.bench.qrc --checks {args.checks} --duration {args.duration} "
        f"--workers {args.workers} --connections {args.connections}"
    )
    http_rows, paragraphs, raws = "", [], []
    label = {
        "portal": "`portal.asgi` (what `make run` and the portal's uvicorn serve: its router "
        "sends /qrc to the lean entry)",
        "lean": "`fus.qrc.asgi` (the QRC's lean entry, same view)",
    }
    for name, result in (http or {}).items():
        qrc, trivial = result["qrc"], result["trivial"]
        server_per_core = 1000 / qrc["server_cpu_ms"] if qrc["server_cpu_ms"] else 0.0
        share = 100 * qrc["per_s"] / trivial["per_s"] if trivial["per_s"] else 0.0
        http_rows += (
            f"| over HTTP, {label[name]}: QRC | {qrc['per_s']:,.0f} | {qrc['p50']} / p99 "
            f"{qrc['p99']} | {qrc['server_cpu_ms']:.2f} |\n"
            f"| over HTTP, {label[name]}: trivial (PUT /qrc → 405) | {trivial['per_s']:,.0f} | "
            f"{trivial['p50']} / p99 {trivial['p99']} | {trivial['server_cpu_ms']:.2f} |\n"
        )
        paragraphs.append(
            f"* {label[name]}: {qrc['per_s']:,.0f} checks/s, {share:.0f} % of its own trivial "
            f"request's {trivial['per_s']:,.0f}/s measured just before (HTTP errors: "
            f"{qrc['non_2xx']}); the workers used {qrc['server_cpu_ms']:.2f} ms of CPU per check "
            f"and {trivial['server_cpu_ms']:.2f} ms per trivial request, i.e. about "
            f"{server_per_core:,.0f} checks/s per core: 2,000 checks/s needs about "
            f"{2000 / server_per_core if server_per_core else float('nan'):.1f} cores of web "
            "workers."
        )
        raws.append(f"{name}, QRC:\n{qrc['raw']}\n\n{name}, trivial:\n{trivial['raw']}")
    if http:
        verdict = "; ".join(
            f"through {label[name].split(' ')[0]}: {result['qrc']['per_s']:,.0f} checks/s, "
            + ("met" if result["qrc"]["per_s"] >= 2000 else "NOT met")
            for name, result in http.items()
        )
        http_text = (
            "Over HTTP (uvicorn, wrk on the same 2 cores):\n\n"
            + "\n".join(paragraphs)
            + f"""

The QRC's own work (spyne + answers: the bare view) is {local["view_cpu_ms"]:.3f} ms of a check;
the rest of the server's CPU per check is uvicorn, the ASGI handler (Django's runs each request's
sync code through several thread hops, two new threads per request) and the middleware. Besides
the web workers, 2,000 checks/s needs the load generator's share, PostgreSQL's (one generation
query per `TARGETING_CACHE_SECONDS` per worker: negligible) and nothing else on the cores."""
        )
        wrk_raw = (
            "<details><summary>wrk output</summary>\n\n```text\n"
            + "\n\n".join(raws)
            + "\n```\n</details>\n"
        )
    else:
        verdict = "not measured over HTTP in this run"
        http_text, wrk_raw = "(over HTTP: not run, `--no-http`)", ""
    portal = (http or {}).get("portal")
    lean = (http or {}).get("lean")
    b = BEFORE
    return f"""# Benchmark: QRC checks per second (PostgreSQL, 1,000,000-device targeting data)

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({cores} CPUs, shared with
other engineers' work: wall-clock rates are noisy, CPU ms per check is not), {pg}, Python
{platform.python_version()}. Command: `make bench` (`{command}`). Code measured: `fus/qrc/`
(spyne service, answers, `fus.qrc.response`) over the per-process targeting index
(`fus.services.targeting.cached_applicable_packages`) and the rollouts' gate cache; data:
`tests/bench/qrc.py` on top of `tests/bench/targeting.py`'s catalogue.
Load average (1 min) before / after: {loads[0]:.1f} / {loads[1]:.1f} on {cores} CPUs.

Targeting data: {data["packages"]} approved unmanaged packages, {data["entries"]} target entries,
{data["ranges"]:,} RangeList rows (ranges, items, exclusions, 200 rollout waves) over a population
of {POPULATION:,} serials in 4 device classes; one file per package; a default FUS entity with a
unicast and a multicast location (each answer lists both). Boxes: 5,000 distinct devices drawn from
the million; {local["with_updates"]:,} of the {local["checks"]:,} in-process checks found at least
one update (answers of 1-3 updates, each with its file and two locations).

| measure | checks/s | median / tail | CPU ms per check |
|---|---:|---:|---:|
| in process, Django test client (full middleware), 1 process, {local["checks"]:,} checks | {local["per_s"]:,.0f} | {local["median_ms"]:.2f} ms / p95 {local["p95_ms"]:.2f} ms | {local["client_cpu_ms"]:.3f} |
| in process, the bare view (spyne + answers, no middleware) | | | {local["view_cpu_ms"]:.3f} |
| in process, the answers alone (`firmware_update_check`) | | | {local["answers_cpu_ms"]:.3f} |
| in process, trivial request (PUT /qrc → 405 through the test client) | | | {local["trivial_cpu_ms"]:.3f} |
{http_rows}
Database queries per check (in process, warm caches): {local["queries"]:.3f} (one generation
query per `TARGETING_CACHE_SECONDS` per process, and the locations' reload at the same TTL).

## Before and after (CPU per check, same harness)

| | before (`{b["commit"]}`) | after |
|---|---:|---:|
| test client, full middleware | {_f(b["client_cpu_ms"])} ms | {local["client_cpu_ms"]:.3f} ms |
| bare view (spyne + answers) | {_f(b["view_cpu_ms"])} ms | {local["view_cpu_ms"]:.3f} ms |
| answers alone | {_f(b["answers_cpu_ms"])} ms | {local["answers_cpu_ms"]:.3f} ms |
| trivial request, test client | {_f(b["trivial_cpu_ms"])} ms | {local["trivial_cpu_ms"]:.3f} ms |
| queries per check | {_f(b["queries"])} | {local["queries"]:.3f} |
| over HTTP, `portal.asgi`: server CPU per check | {_f(b["http_server_cpu_ms"], ".2f")} ms | {_f(portal["qrc"]["server_cpu_ms"] if portal else None, ".2f")} ms |
| over HTTP, `portal.asgi`: checks/s (trivial request) | {_f(b["http_per_s"], ",.0f")} ({_f(b["http_trivial_per_s"], ",.0f")}) | {_f(portal["qrc"]["per_s"] if portal else None, ",.0f")} ({_f(portal["trivial"]["per_s"] if portal else None, ",.0f")}) |
| over HTTP, `fus.qrc.asgi`: server CPU per check | (did not exist) | {_f(lean["qrc"]["server_cpu_ms"] if lean else None, ".2f")} ms |
| over HTTP, `fus.qrc.asgi`: checks/s (trivial request) | (did not exist) | {_f(lean["qrc"]["per_s"] if lean else None, ",.0f")} ({_f(lean["trivial"]["per_s"] if lean else None, ",.0f")}) |

"Before" is commit `{b["commit"]}` measured with this harness {b["when"]} (load average
{b["load"]}). What changed:

* the FUS entities' locations come from a per-process cache (`fus.qrc.answers.fus_locations`:
  reloaded after a local save or delete of a ServiceLocation or FusEntity, else every
  `TARGETING_CACHE_SECONDS`), instead of one ORM query per check with updates;
* a successful answer is written straight to bytes (`fus.qrc.response`, set as spyne's
  `ctx.out_string`): the same bytes spyne's serialiser writes (a hypothesis test compares them),
  without building spyne objects and an lxml tree; faults and the WSDL are still spyne's;
* a lean ASGI entry (`fus.qrc.asgi`, docs/qrc.md): the same view without Django's ASGI handler
  and the portal's middleware; `portal.asgi` sends `/qrc` to it (so the "before" column of
  `portal.asgi` is Django's handler with all middleware, the "after" column the lean entry behind
  the portal's router), and it can run on /qrc-only workers;
* kept as they were: spyne's lxml schema validation of every request (it costs almost nothing:
  soft validation measured slower, no validation no faster), the refusal of DOCTYPE/entities and
  oversized bodies before parsing.

## Against the goal (≥ 2,000 checks/s)

In process the QRC costs {local["client_cpu_ms"]:.3f} ms of CPU per check through the test client
(Django's request handling and all middleware, no ASGI server), i.e. about {per_core:,.0f} checks/s
per core. {http_text}

Goal (at least 2,000 checks/s over HTTP on this machine): **{verdict}**. Wall-clock rates on
this shared machine move by a factor of two between runs with the load; the CPU per check is the
figure to plan with.

{wrk_raw}"""  # noqa: S608 (a report, not SQL)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=3000)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database", default=DATABASE, help="PostgreSQL database to build")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-http", action="store_true", help="in-process figures only")
    parser.add_argument(
        "--no-lean", dest="lean", action="store_false", help="skip the fus.qrc.asgi server"
    )
    parser.add_argument("--output", type=Path, default=REPORT, help="the report to write")
    args = parser.parse_args(argv)
    from django.conf import settings as django_settings

    if django_settings.configured:  # e.g. after the targeting benchmark in `python -m tests.bench`
        subprocess.run(
            [sys.executable, "-m", "tests.bench.qrc", *(argv or [])], cwd=ROOT, check=True
        )
        return
    from tests.bench.targeting import _drop_database, _ensure_database, _setup_django

    _ensure_database(args.database)
    try:
        os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
        _setup_django(args.database)
        from django.conf import settings

        # persistent connection: a new PostgreSQL connection per check would cost more than it
        settings.DATABASES["default"]["CONN_MAX_AGE"] = 600
        data = prepare()
        rng = random.Random(5)
        indices = rng.sample(range(POPULATION), 5000)
        load_before = os.getloadavg()
        local = in_process(indices[: args.checks])
        from django.db import connections

        connections.close_all()
        http = None
        if not args.no_http:
            http = {
                name: over_http(
                    indices,
                    app=APPS[name],
                    workers=args.workers,
                    duration=args.duration,
                    connections=args.connections,
                    database=args.database,
                )
                for name in (["portal", "lean"] if args.lean else ["portal"])
            }
        load_after = os.getloadavg()
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            _drop_database(args.database)
    text = report(args, data, local, http, (load_before[0], load_after[0]))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
