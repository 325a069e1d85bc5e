"""The wall time of a managed rollout of N cpesim boxes on this machine, and its bottleneck
(issue #7's second benchmark; default N = 10,000).

Everything real, in separate processes, as `runportal` runs them:

* uvicorn with 2 worker processes serving the portal (`/cwmp`, `/firmware/`) on PostgreSQL
  (a database of its own, dropped and created per run) with the psycopg pool on;
* a Celery worker (`-Q default,acs --concurrency 2`, runportal's default) and Celery beat (the
  rollout tick every 10 s, `CELERY_BEAT_SCHEDULE`); Redis as the broker if it answers on
  127.0.0.1:6379 (db 11, flushed per run), else the filesystem broker in the run's temp dir;
* one cpesim process (`python -m cpesim`) of N boxes with its connection-request listener (digest:
  the ACS answers each box's challenge with the box's factory credentials, imported as an operator
  does); the ACS itself runs with `CWMP_AUTH=none`, as the 1,000-box test does.

Phases timed separately: registration (cpesim started -> every box has informed and is in the
registry), planning (`services.create_rollout`: validate and plan the waves), the run
(`services.start_rollout` -> status completed; waves canary 1 %, 10 %, 30 %, rest; gate auto, no
soak). CPU seconds of every process (utime + stime from /proc, sampled each second, grouped:
uvicorn workers, Celery worker, beat, cpesim, PostgreSQL backends of this database, this driver),
the machine's CPU and load average, the broker's queue lengths and each box's stage latencies are
recorded to name the bottleneck. Writes docs/benchmarks/rollout-fleet.md.

    python -m tests.bench.rollout_fleet [--boxes 10000] [--report PATH]

Needs PostgreSQL: BENCH_ROLLOUT_FLEET_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/bench_rollout_fleet).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "docs" / "benchmarks" / "rollout-fleet.md"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_rollout_fleet"
REDIS = "redis://127.0.0.1:6379/11"
OUI, PRODUCT_CLASS, SERIALS = "00D09E", "BENCH-STB", "SN{:07d}"
STAGES = [{"name": "canary", "percent": 1}, {"percent": 10}, {"percent": 30}]
UVICORN_WORKERS = 2
CELERY_CONCURRENCY = 2
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- processes ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _redis_answers(url: str) -> bool:
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        client.flushdb()  # db 11 is this benchmark's own
        return True
    except Exception:
        return False


def _spawn(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "a") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen | None) -> None:
    """SIGTERM to the process (the Celery worker lets its pool finish), then its group killed."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # this child's own session: nothing of it outlives us
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _wait_for(predicate, timeout: float, what: str, procs=(), step: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        for name, proc, log in procs:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"not within {timeout:g} s: {what}")
        time.sleep(step)


def _start_listening(name, argv_for, env, log: Path, procs: dict, attempts: int = 5) -> int:
    """Start a process that listens on a free port (`argv_for(port)`); another port if that one
    was taken in the meantime (the machine is shared). Returns the port once it accepts."""
    for _ in range(attempts):
        port = _free_port()
        proc = procs[name] = _spawn(argv_for(port), env, log)
        deadline = time.monotonic() + 120
        while proc.poll() is None and not _port_open(port) and time.monotonic() < deadline:
            time.sleep(0.3)
        if proc.poll() is None and _port_open(port):
            return port
        _stop(proc)
        if "address already in use" not in log.read_text(errors="replace"):
            raise SystemExit(f"{name} did not start:\n{log.read_text()[-3000:]}")
        log.write_text("")  # the next attempt's log only
    raise SystemExit(f"{name}: no free port after {attempts} attempts")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# --- CPU accounting from /proc --------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int, float] | None:
    """(ppid, starttime, utime + stime seconds) of a process, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[19]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _runqueue_wait(pid: int) -> float:
    """Seconds the process has spent runnable but waiting for a CPU (/proc/<pid>/schedstat)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal
    return (total - idle) / CLK_TCK, total / CLK_TCK


@dataclass
class Proc:
    group: str
    label: str
    cpu: float  # last seen utime + stime
    wait: float = 0.0  # last seen run-queue wait: runnable, no CPU free
    window: deque = field(default_factory=lambda: deque(maxlen=11))  # (t, cpu) of the last 10 s
    peak: float = 0.0  # highest 10-s average, in cores


class Sampler(threading.Thread):
    """Every second: the CPU time of each process of the benchmark, by group. A process that
    exits keeps its last seen figure (at most a second of its work is lost)."""

    def __init__(self, roots: dict[str, int], database: str) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.database = database
        self.procs: dict[tuple[int, int], Proc] = {}
        self.lock = threading.Lock()
        self.halt = threading.Event()

    def _label(self, pid: int, ppid: int) -> tuple[str, str] | None:
        for name, root in self.roots.items():
            if pid == root:
                return name, {"uvicorn": "uvicorn supervisor", "worker": "celery worker main"}.get(
                    name, name
                )
        for name, root in self.roots.items():
            if ppid == root and name != "driver":  # the driver's children are the roots
                return name, {"uvicorn": "uvicorn worker", "worker": "celery pool process"}.get(
                    name, f"{name} child"
                )
        cmd = _cmdline(pid)
        if cmd.startswith("postgres:") and f" {self.database} " in cmd:
            return "postgres", "postgres backend" if "autovacuum" not in cmd else "autovacuum"
        return None

    def scan(self) -> None:
        now = time.monotonic()
        stats = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                pid = int(entry.name)
                s = _stat(pid)
                if s is not None:
                    stats[pid] = s
        with self.lock:
            for pid, (ppid, start, cpu) in stats.items():
                key = (pid, start)
                proc = self.procs.get(key)
                if proc is None:
                    label = self._label(pid, ppid)
                    if label is None:
                        continue
                    proc = self.procs[key] = Proc(label[0], label[1], cpu)
                proc.cpu = cpu
                proc.wait = _runqueue_wait(pid)
                proc.window.append((now, cpu))
                t0, c0 = proc.window[0]
                if now - t0 >= 5:
                    proc.peak = max(proc.peak, (cpu - c0) / (now - t0))

    def snapshot(self) -> dict:
        """Per process CPU seconds now (a phase mark)."""
        self.scan()
        with self.lock:
            return {
                "t": time.monotonic(),
                "procs": {k: (p.cpu, p.wait) for k, p in self.procs.items()},
                "machine": _machine_cpu(),
                "load": os.getloadavg(),
            }

    def reset_peaks(self) -> None:
        with self.lock:
            for proc in self.procs.values():
                proc.peak = 0.0

    def run(self) -> None:
        while not self.halt.wait(1.0):
            self.scan()


def phase_cpu(sampler: Sampler, start: dict, end: dict) -> dict:
    """CPU seconds per group and per process between two marks (processes born in between count
    from zero), the machine's busy share, the peak 10-s rate of each process."""
    wall = end["t"] - start["t"]
    groups: dict[str, float] = defaultdict(float)
    waits: dict[str, float] = defaultdict(float)
    procs = []
    with sampler.lock:
        for key, (cpu, wait) in end["procs"].items():
            cpu0, wait0 = start["procs"].get(key, (0.0, 0.0))
            used, waited = cpu - cpu0, wait - wait0
            proc = sampler.procs[key]
            groups[proc.group] += used
            waits[proc.group] += waited
            procs.append((proc.group, proc.label, key[0], used, proc.peak, waited))
    busy = end["machine"][0] - start["machine"][0]
    total = end["machine"][1] - start["machine"][1]
    return {
        "wall": wall,
        "groups": dict(groups),
        "waits": dict(waits),
        "procs": sorted(procs, key=lambda p: -p[3]),
        "machine_busy": busy,
        "machine_share": busy / total if total else 0.0,
        "load_start": start["load"],
        "load_end": end["load"],
    }


# --- the portal's side, in this process -----------------------------------------------------------


def _setup_catalogue(boxes: int):
    """Manufacturer, OUI, device class, a NOC user and the approved 2.0.0 package (a cpesim image
    of 20 kB: the boxes check its header and reboot into its version)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group as AuthGroup

    from cpesim.download import make_image
    from fus.models import DeviceClass, Manufacturer
    from fus.services import catalogue
    from fus.uploads import incoming_from_bytes

    user = get_user_model().objects.create(username="bench-noc", is_staff=True)
    noc = AuthGroup.objects.filter(name="noc").first()
    if noc is not None:
        user.groups.add(noc)
    maker = Manufacturer.objects.create(name="Bench")
    catalogue.set_manufacturer_ouis(maker, [OUI])
    device_class = DeviceClass.objects.create(
        manufacturer=maker, oui=OUI, product_class=PRODUCT_CLASS, hardware_versions=["1.0"]
    )
    image = make_image("2.0.0", oui=OUI, product_class=PRODUCT_CLASS, payload=os.urandom(20_000))
    draft = catalogue.FirmwareDraft(
        software_version="2.0.0", package_name="bench-fleet", device_classes=[device_class]
    )
    upload = catalogue.FirmwareUpload(image=incoming_from_bytes("bench-2.0.0.bin", image))
    package = catalogue.upload_firmware(maker, draft, [upload], actor=user)
    package = catalogue.approve_firmware(package, actor=user)
    return user, package, len(image)


def _registered() -> int:
    from acs.models import Device

    return Device.objects.filter(last_inform__isnull=False, device_class__isnull=False).count()


def _import_cr_credentials() -> None:
    """The boxes' factory connection-request credentials (cpesim: user = serial, password
    cr-<serial>), as an operator imports them."""
    from django.db.models import F, Value
    from django.db.models.functions import Concat

    from acs.models import Device

    Device.objects.update(
        connection_request_username=F("serial_number"),
        connection_request_password=Concat(Value("cr-"), F("serial_number")),
    )


LOCK_WAITS = (
    "SELECT a.wait_event, left(regexp_replace(a.query, '\\s+', ' ', 'g'), 110), "
    "coalesce(b.state, ''), coalesce(left(regexp_replace(b.query, '\\s+', ' ', 'g'), 110), '') "
    "FROM pg_stat_activity a LEFT JOIN pg_stat_activity b ON b.pid = (pg_blocking_pids(a.pid))[1] "
    "WHERE a.datname = %s AND a.wait_event_type = 'Lock'"
)


def _pg_activity(database: str, blocked: Counter) -> dict[str, int]:
    """What the database's other backends are doing now: running, waiting for a lock, idle in a
    transaction (pg_stat_activity). Each lock wait is counted in `blocked` as (lock, waiting
    statement, statement of the backend it waits for)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT state, coalesce(wait_event_type, ''), count(*) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() GROUP BY 1, 2",
            [database],
        )
        rows = cursor.fetchall()
        cursor.execute(
            LOCK_WAITS,
            [database],
        )
        for lock, waiting, state, holder in cursor.fetchall():
            blocked[(lock, waiting, f"{state}: {holder}")] += 1
    out = {"active": 0, "lock": 0, "idle in transaction": 0, "connections": 0}
    for state, wait, n in rows:
        out["connections"] += n
        if state == "active":
            out["active"] += n
            if wait == "Lock":
                out["lock"] += n
        elif state and state.startswith("idle in transaction"):
            out["idle in transaction"] += n
    return out


def _queue_lengths(redis_url: str | None) -> dict[str, int]:
    if not redis_url:
        return {}
    import redis

    client = redis.Redis.from_url(redis_url)
    return {q: client.llen(q) for q in ("default", "acs")}


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (0.0, 0.0, 0.0)
    values = sorted(values)

    def at(p: float) -> float:
        return values[min(len(values) - 1, int(p * len(values)))]

    return at(0.5), at(0.95), values[-1]


def _analyse(rollout) -> dict:
    """Per wave and per box figures from the database after the run."""
    from django.db.models import Count, Max, Min

    from acs.models import Task
    from fus.models import RolloutDevice

    members = RolloutDevice.objects.filter(rollout=rollout)
    waves = []
    for wave in rollout.waves.order_by("number"):
        rows = members.filter(wave=wave.number).aggregate(
            first=Min("started_at"), last=Max("finished_at"), n=Count("pk")
        )
        waves.append((wave.number, wave.name, wave.size, wave.released_at, rows))
    # each tick that dispatched stamps its boxes with its own `now`: one row per dispatching tick
    ticks = list(
        members.values("started_at")
        .annotate(n=Count("pk"))
        .order_by("started_at")
        .values_list("started_at", "n")
    )
    stages: dict[str, list[float]] = defaultdict(list)
    rows = members.select_related("task").only(
        "started_at",
        "finished_at",
        "task__created",
        "task__sent",
        "task__transfer_completed",
        "task__completed",
    )
    for row in rows.iterator(chunk_size=2000):
        task = row.task
        if task is None or not (task.sent and task.completed and row.finished_at):
            continue
        stages["dispatched -> Download sent (connection request, session)"].append(
            (task.sent - row.started_at).total_seconds()
        )
        if task.transfer_completed:
            stages["sent -> TransferComplete (download, reboot, session)"].append(
                (task.transfer_completed - task.sent).total_seconds()
            )
        stages["Download done -> outcome collected (next tick)"].append(
            (row.finished_at - task.completed).total_seconds()
        )
        stages["dispatched -> outcome (per box)"].append(
            (row.finished_at - row.started_at).total_seconds()
        )
    downloads = Task.objects.filter(rpc="Download")
    return {
        "waves": waves,
        "ticks": ticks,
        "stages": {k: _percentiles(v) for k, v in stages.items()},
        "downloads": downloads.count(),
        "downloads_done": downloads.filter(state="done").count(),
        "boxes_with_downloads": downloads.values("device").distinct().count(),
    }


TASK_LINE = re.compile(
    r"^\[(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+: INFO/[^\]]+\] "
    r"Task (?P<name>[\w.]+)\[[^\]]+\] succeeded in (?P<seconds>[\d.]+)s"
)


def _task_times(log: Path, since: datetime) -> dict[str, list[float]]:
    """Run time of each Celery task the worker finished since `since` (its INFO log lines)."""
    out: dict[str, list[float]] = defaultdict(list)
    floor = since.astimezone().replace(tzinfo=None, microsecond=0)  # the log is local time
    for line in log.read_text(errors="replace").splitlines():
        match = TASK_LINE.match(line)
        if match and datetime.fromisoformat(match["at"]) >= floor:
            out[match["name"]].append(float(match["seconds"]))
    return dict(out)


def _commit() -> str:
    """The commit measured: this tree's HEAD, or BENCH_COMMIT for an exported tree."""
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return done.stdout.strip() + (" with uncommitted changes in the tree" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("BENCH_COMMIT", "unknown")


def _cpesim_stats(log: Path) -> str:
    lines = [line for line in log.read_text().splitlines() if "stats:" in line]
    return lines[-1].split("stats:", 1)[1].strip() if lines else "(no stats line)"


# --- the run --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--boxes", type=int, default=10_000)
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--session-concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=None, help="run phase limit, seconds")
    args = parser.parse_args(argv)
    boxes = args.boxes
    db_url = os.environ.get("BENCH_ROLLOUT_FLEET_DATABASE_URL", DEFAULT_DB)
    database = urlsplit(db_url).path.lstrip("/")
    work = Path(tempfile.mkdtemp(prefix="bench-rollout-fleet-", dir=os.environ.get("BENCH_DIR")))
    redis_url = REDIS if _redis_answers(REDIS) else None
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "CELERY_TASK_ALWAYS_EAGER", "DATABASE_URL")
    }
    env.update(
        PORTAL_VAR_DIR=str(work / "var"),
        DJANGO_SETTINGS_MODULE="portal.settings",
        DATABASE_URL=db_url,
        DATABASE_POOL_SIZE="8",
        CWMP_AUTH="none",
        CWMP_UNKNOWN_DEVICES="known-ouis",
        # the factory credentials are imported (below): the ACS must not give the boxes others
        CWMP_PROVISION_CONNECTION_REQUEST_CREDENTIALS="false",
        CWMP_MAX_CONCURRENT_SESSIONS="100000",
        LOG_LEVEL="WARNING",
        SECRET_KEY="bench-secret-key-not-for-production-0123456789",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),  # the children import this tree's code, wherever they start
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    print(f"{boxes} boxes; load average {load_before}; work dir {work}", flush=True)
    _recreate_database(db_url)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)

    os.environ.update({k: v for k, v in env.items() if k != "DATABASE_POOL_SIZE"})
    os.environ.pop("DATABASE_POOL_SIZE", None)
    import django

    django.setup()
    from fus.models import Rollout
    from fus.rollouts import engine, services
    from fus.rollouts.choices import RolloutStatus

    user, package, image_bytes = _setup_catalogue(boxes)

    bindir = Path(sys.executable).parent
    logs = {name: work / f"{name}.log" for name in ("uvicorn", "worker", "beat", "cpesim")}
    procs: dict[str, subprocess.Popen] = {}
    sampler: Sampler | None = None
    try:
        port = _start_listening(
            "uvicorn",
            lambda port: [
                str(bindir / "uvicorn"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(UVICORN_WORKERS),
                "--no-access-log",
                "--log-level",
                "warning",
                "portal.asgi:application",
            ],
            env,
            logs["uvicorn"],
            procs,
        )
        env["FUS_DOWNLOAD_BASE_URL"] = f"http://127.0.0.1:{port}/firmware/"  # for the worker
        celery = str(bindir / "celery")
        procs["worker"] = _spawn(
            [
                celery,
                "-A",
                "portal",
                "worker",
                "-l",
                "INFO",
                "-Q",
                "default,acs",
                "--concurrency",
                str(CELERY_CONCURRENCY),
                "-n",
                "bench-rollout-fleet@%h",
            ],
            env,
            logs["worker"],
        )
        procs["beat"] = _spawn(
            [
                celery,
                "-A",
                "portal",
                "beat",
                "-l",
                "INFO",
                "--schedule",
                str(work / "celerybeat-schedule"),
            ],
            env,
            logs["beat"],
        )
        watched = [(n, procs[n], logs[n]) for n in ("uvicorn", "worker", "beat")]
        _wait_for(lambda: "ready." in logs["worker"].read_text(), 90, "worker ready", watched)
        sampler = Sampler({n: p.pid for n, p in procs.items()}, database)
        sampler.roots["driver"] = os.getpid()
        sampler.start()

        # --- phase 1: registration ----------------------------------------------------------------
        mark0 = sampler.snapshot()
        _start_listening(
            "cpesim",
            lambda cr_port: [
                sys.executable,
                "-m",
                "cpesim",
                "--acs",
                f"http://127.0.0.1:{port}/cwmp",
                "--count",
                str(boxes),
                "--serial-start",
                "1",
                "--serial-format",
                SERIALS,
                "--oui",
                OUI,
                "--product-class",
                PRODUCT_CLASS,
                "--manufacturer",
                "Bench",
                "--software-version",
                "1.0.0",
                "--listen",
                f"127.0.0.1:{cr_port}",
                "--periodic-interval",
                "86400",
                "--reboot-seconds",
                "0.05",
                "--concurrency",
                str(args.session_concurrency),
                "--download-concurrency",
                str(args.session_concurrency),
                "--ramp",
                "0",
                "--http-timeout",
                "60",
                "--stats-interval",
                "10",
            ],
            env,
            logs["cpesim"],
            procs,
        )
        sampler.roots["cpesim"] = procs["cpesim"].pid
        watched.append(("cpesim", procs["cpesim"], logs["cpesim"]))
        _wait_for(
            lambda: _registered() == boxes,
            max(300, boxes * 0.2),
            f"all {boxes} boxes registered",
            watched,
            step=1.0,
        )
        mark1 = sampler.snapshot()
        from acs.models import Device

        first_inform = Device.objects.order_by("created").values_list("created", flat=True)[0]
        last_inform = Device.objects.order_by("-created").values_list("created", flat=True)[0]
        _import_cr_credentials()

        # --- phase 2: planning --------------------------------------------------------------------
        sampler.reset_peaks()
        mark2 = sampler.snapshot()
        spec = {
            "name": f"bench fleet {boxes}",
            "channels": ["managed"],
            "stages": STAGES,
            "gate": "auto",
            "soak_minutes": 0,
            "success_threshold": 95,
            "min_sample": 20,
            "max_concurrent": boxes,
            "starts_per_minute": 1_000_000,
            "jitter_seconds": 0,
        }
        plan_started = time.perf_counter()
        rollout = services.create_rollout(package, spec, actor=user)
        plan_s = time.perf_counter() - plan_started
        mark3 = sampler.snapshot()
        waves = list(rollout.waves.order_by("number").values_list("name", "size"))
        print(f"registered in {mark1['t'] - mark0['t']:.1f} s; planned in {plan_s:.2f} s: {waves}")

        # --- phase 3: the run ---------------------------------------------------------------------
        sampler.reset_peaks()
        mark4 = sampler.snapshot()
        run_started = datetime.now(UTC)
        services.start_rollout(rollout, actor=user)
        timeline = []
        blocked: Counter = Counter()
        limit = args.timeout or max(900.0, boxes * 0.5)
        deadline = time.monotonic() + limit
        while True:
            rollout.refresh_from_db()
            counts = engine.state_counts(rollout)
            queues = _queue_lengths(redis_url)
            now = time.monotonic() - mark4["t"]
            activity = _pg_activity(database, blocked)
            timeline.append(
                (now, rollout.current_wave, counts, queues, os.getloadavg()[0], activity)
            )
            if len(timeline) % 10 == 1:
                print(
                    f"{now:6.0f} s wave {rollout.current_wave} {counts} queues {queues}",
                    flush=True,
                )
            if rollout.status in (RolloutStatus.COMPLETED, RolloutStatus.HALTED):
                break
            for name, proc, log in watched:
                if proc.poll() is not None:
                    raise SystemExit(f"{name} exited:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise SystemExit(f"the rollout did not complete within {limit:g} s: {counts}")
            time.sleep(1.0)
        mark5 = sampler.snapshot()
        sampler.halt.set()
        rollout = Rollout.objects.get(pk=rollout.pk)
        analysis = _analyse(rollout)
        upgraded = Device.objects.filter(software_version="2.0.0").count()
    finally:
        if sampler is not None:
            sampler.halt.set()
        for name in ("cpesim", "beat", "worker", "uvicorn"):
            _stop(procs.get(name))
    cpesim_stats = _cpesim_stats(logs["cpesim"])
    task_times = _task_times(logs["worker"], run_started)
    phases = {
        "registration": phase_cpu(sampler, mark0, mark1),
        "planning": phase_cpu(sampler, mark2, mark3),
        "run": phase_cpu(sampler, mark4, mark5),
    }
    report = render(
        args=args,
        boxes=boxes,
        started_at=started_at,
        load_before=load_before,
        broker="Redis (127.0.0.1:6379/11)" if redis_url else f"filesystem broker in {work}",
        image_bytes=image_bytes,
        phases=phases,
        registration=(first_inform, last_inform),
        plan_s=plan_s,
        waves=waves,
        rollout=rollout,
        counts=engine.state_counts(rollout),
        analysis=analysis,
        upgraded=upgraded,
        timeline=timeline,
        task_times=task_times,
        blocked=blocked,
        cpesim_stats=cpesim_stats,
        database=database,
        commit=_commit(),
    )
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report)
    print(report)
    if rollout.status != RolloutStatus.COMPLETED:
        raise SystemExit(f"the rollout ended {rollout.status}: {rollout.halt_reason}")


# --- the report -----------------------------------------------------------------------------------

GROUP_NAMES = {
    "uvicorn": f"uvicorn ({UVICORN_WORKERS} workers + supervisor)",
    "worker": f"Celery worker (-Q default,acs, {CELERY_CONCURRENCY} pool processes + main)",
    "beat": "Celery beat",
    "cpesim": "cpesim fleet (one asyncio process)",
    "postgres": "PostgreSQL backends of this database",
    "driver": "this driver (polling, planning in-process)",
}


def _cpu_table(phase: dict) -> str:
    wall = phase["wall"]
    lines = [
        "| process group | CPU s | cores (CPU s / wall) | waiting for a CPU s (run queue) |",
        "|---|---:|---:|---:|",
    ]
    for group, name in GROUP_NAMES.items():
        used = phase["groups"].get(group, 0.0)
        waited = phase["waits"].get(group, 0.0)
        lines.append(f"| {name} | {used:.1f} | {used / wall:.2f} | {waited:.1f} |")
    ours = sum(phase["groups"].values())
    waited = sum(phase["waits"].values())
    lines.append(
        f"| **all of the above** | **{ours:.1f}** | **{ours / wall:.2f}** | **{waited:.1f}** |"
    )
    lines.append(
        f"| whole machine (/proc/stat: includes other engineers' work) | {phase['machine_busy']:.1f} "
        f"| {phase['machine_busy'] / wall:.2f} of {os.cpu_count()} | |"
    )
    return "\n".join(lines)


def _proc_table(phase: dict, top: int = 8) -> str:
    wall = phase["wall"]
    lines = [
        "| process | pid | CPU s | share of one core over the phase | peak 10-s average (cores) "
        "| waiting for a CPU s | running or runnable, share of the phase |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for _group, label, pid, used, peak, waited in phase["procs"][:top]:
        lines.append(
            f"| {label} | {pid} | {used:.1f} | {100 * used / wall:.0f} % | {peak:.2f} "
            f"| {waited:.1f} | {100 * (used + waited) / wall:.0f} % |"
        )
    return "\n".join(lines)


def _lock_table(blocked: Counter, top: int = 6) -> str:
    if not blocked:
        return "None seen."

    def cell(text: str) -> str:
        return "`" + text.replace("|", "\\|").replace("`", "'") + "`"

    lines = [
        "| samples | lock | waiting statement | blocking backend: statement |",
        "|---:|---|---|---|",
    ]
    for (lock, waiting, holder), n in blocked.most_common(top):
        lines.append(f"| {n} | {lock} | {cell(waiting)} | {cell(holder)} |")
    return "\n".join(lines)


def _load(phase: dict) -> str:
    a, b = phase["load_start"], phase["load_end"]
    return f"{a[0]:.2f} / {a[1]:.2f} / {a[2]:.2f} at the start, {b[0]:.2f} / {b[1]:.2f} / {b[2]:.2f} at the end"


def engine_floor(wave_sizes: list[int]) -> tuple[float, int, float, int]:
    """The least wall time the engine's pacing allows: each wave needs ceil(size / batch)
    dispatching ticks, one per beat interval (its outcomes are collected, and the next wave
    released, by the tick after its last dispatch). (floor s, ticks, interval s, batch)."""
    from django.conf import settings

    from fus.rollouts.engine import DISPATCH_BATCH

    interval = float(settings.CELERY_BEAT_SCHEDULE["fus-rollouts-tick"]["schedule"])
    ticks = sum(max(1, -(-size // DISPATCH_BATCH)) for size in wave_sizes)
    return ticks * interval, ticks, interval, DISPATCH_BATCH


def _cpu_line(name: str, phase: dict) -> str:
    wall = phase["wall"]
    ncpu = os.cpu_count() or 1
    groups = sorted(phase["groups"].items(), key=lambda kv: -kv[1])
    ours = sum(phase["groups"].values())
    top_group, top_used = groups[0]
    busiest = phase["procs"][0]
    return (
        f"* CPU, {name} ({wall:.0f} s): the machine was "
        f"{100 * phase['machine_busy'] / wall / ncpu:.0f} % busy "
        f"({phase['machine_busy'] / wall:.2f} of {ncpu} cores), this benchmark's processes "
        f"{ours / wall:.2f} cores of it. Largest consumer: {GROUP_NAMES[top_group]}, "
        f"{top_used:.0f} CPU s ({100 * top_used / max(ours, 1e-9):.0f} % of the benchmark's); "
        f"busiest process: {busiest[1]} (pid {busiest[2]}), {100 * busiest[3] / wall:.0f} % of "
        f"a core on average, {busiest[4]:.2f} cores at its busiest 10 s. They waited "
        f"{sum(phase['waits'].values()):.0f} s in all for a CPU (run queue) against "
        f"{ours:.0f} s on one."
    )


def _activity(timeline: list) -> dict[str, tuple[float, int]]:
    """Mean and peak of each pg_stat_activity figure over the run's samples."""
    samples = [t[5] for t in timeline]
    if not samples:
        return {}
    return {
        key: (statistics.fmean(a[key] for a in samples), max(a[key] for a in samples))
        for key in samples[0]
    }


def _cr_line(r: dict, interval: float, batch: int) -> str:
    times = r["task_times"].get("acs.connection_request") or [0.0]
    rate = CELERY_CONCURRENCY / max(statistics.mean(times), 1e-9)
    peak = max((t[3].get("acs", 0) for t in r["timeline"]), default=0)
    return (
        f"* Connection requests: the pool sends at most about {rate:.0f} per second "
        f"({CELERY_CONCURRENCY} processes, {1000 * statistics.mean(times):.0f} ms per task on "
        f"average, ticks and other tasks aside) against up to {batch / interval:.0f} per second "
        f"dispatched (a full batch of {batch} per {interval:g} s tick); the `acs` queue peaked at "
        f"{peak:,}."
    )


def bottleneck(r: dict) -> tuple[str, list[str]]:
    """(verdict key, evidence lines), stated from the figures: the engine's pacing against the
    run's wall time, how busy the Celery pool was (wall time in tasks, I/O waits included), the
    per-box pipeline against the tick interval, and the CPU of each process and of the machine."""
    run = r["phases"]["run"]
    wall = run["wall"]
    floor, ticks, interval, batch = engine_floor([size for _, size in r["waves"]])
    times = r["task_times"]
    in_tasks = sum(sum(v) for v in times.values())
    pool_busy = in_tasks / (wall * CELERY_CONCURRENCY)
    stages = r["analysis"]["stages"]
    pipeline = stages.get("dispatched -> Download sent (connection request, session)", (0, 0, 0))
    transfer = stages.get("sent -> TransferComplete (download, reboot, session)", (0, 0, 0))
    busiest = run["procs"][0]
    machine = run["machine_busy"] / wall / (os.cpu_count() or 1)
    ours = sum(run["groups"].values())
    waited = sum(run["waits"].values())
    activity = _activity(r["timeline"])
    running, locked = activity.get("active", (0, 0)), activity.get("lock", (0, 0))
    wanting = sorted(
        ((g, run["groups"].get(g, 0) + run["waits"].get(g, 0)) for g in GROUP_NAMES),
        key=lambda kv: -kv[1],
    )
    lines = [
        f"* Engine pacing: {ticks} dispatching ticks needed (each wave ⌈size / {batch}⌉) x "
        f"{interval:g} s beat interval = a floor of {floor:.0f} s; the run took {wall:.0f} s = "
        f"**{wall / floor:.2f} x the floor**.",
        f"* Celery pool ({CELERY_CONCURRENCY} processes): busy {100 * pool_busy:.0f} % of the run "
        "(wall time inside tasks, database and HTTP waits included): "
        + "; ".join(
            f"{name} {len(v):,} x median {statistics.median(v):.3f} s, max {max(v):.2f} s, "
            f"{sum(v):.0f} s in all"
            for name, v in sorted(times.items(), key=lambda kv: -sum(kv[1]))
            if v
        )
        + ".",
        _cr_line(r, interval, batch),
        f"* Per box: dispatched → Download sent p95 {pipeline[1]:.1f} s, sent → TransferComplete "
        f"p95 {transfer[1]:.1f} s, against the {interval:g} s tick interval.",
        f"* PostgreSQL (pg_stat_activity each second): on average {running[0]:.1f} backends "
        f"running a statement (peak {running[1]}), {locked[0]:.2f} waiting for a lock (peak "
        f"{locked[1]}).",
        _cpu_line("registration", r["phases"]["registration"]),
        _cpu_line("run", run),
        "* Wanting a CPU (running + waiting in the run queue) over the run: "
        + ", ".join(f"{GROUP_NAMES[g]} {v / wall:.2f} cores" for g, v in wanting[:4])
        + ".",
    ]
    if wall / floor <= 1.25:
        verdict = "engine"
    elif pool_busy >= 0.8:
        verdict = "celery"
    elif busiest[4] >= 0.9:
        verdict = "process"
    elif machine >= 0.9 and waited >= 0.5 * ours:
        verdict = "machine"
    else:
        verdict = "pipeline"
    return verdict, lines


VERDICTS = {
    "engine": """**The bottleneck is the rollout engine's pacing, not a process.** The run took about
the floor the engine sets: one tick per beat interval (`fus-rollouts-tick`, 10 s) moves at most
`DISPATCH_BATCH` (500) boxes into flight, and a wave's outcomes are collected (and the next wave
released) only by a tick. The boxes, the Celery pool and the portal's processes kept up with
that cadence (see the evidence): the portal mostly waits for its own clock.""",
    "celery": """**The bottleneck is the Celery worker** (`-Q default,acs`, 2 prefork processes): its pool
was busy most of the run, with the connection requests (one task each, two HTTP GETs with the
digest challenge and a device event) and the ticks (500 Downloads queued per tick) queued behind
each other, while the run took well over the engine's floor.""",
    "process": """**The bottleneck is the busiest process named above**: it ran at a full core at its
busiest, and the run took well over the engine's floor.""",
    "machine": """**The bottleneck is the machine's CPU.** Both cores were busy — with this
benchmark's processes and with other engineers' work at the same time — and the benchmark's
processes spent {wait_ratio:.1f} times as long waiting in the run queue for a CPU as running on
one, while none of them reached a full core and the run took well over the engine's floor. Which
of its processes wanted the CPU most is the last line of the evidence. A process waiting for a CPU
also holds its transaction open longer, so the lock waits below grow with it.""",
    "pipeline": """**The bottleneck is each box's pipeline after dispatch, not one saturated
resource.** The run took well over the engine's floor while neither the Celery pool ({pool_busy:.0f} %
busy), a single process nor the machine ({machine:.0f} % busy) was used up: a box needs {box_p50:.0f} s (median) from its dispatch to
its outcome, against the {interval:g} s tick, so a wave outlasts its dispatching ticks. Its
longest stage is "{stage}" (median {stage_p50:.0f} s): a tick's batch of connection requests
queues in the {concurrency}-process Celery pool (the `acs` queue peaked at {acs_peak:,}), and the
sessions and downloads that follow share the uvicorn workers, which wanted {uvicorn:.2f} cores
of the machine's {ncpu} (running or waiting for a CPU) — the process group closest to
saturation.""",
}

MOVES = {
    "engine": """**The engine's cadence** (product code: `fus/rollouts/engine.py`, `portal/settings.py`):
   a larger `DISPATCH_BATCH` (500 Downloads per tick) or a shorter `fus-rollouts-tick` interval
   (10 s) lowers the floor in proportion — 10,000 boxes in waves of 1/10/30/59 % need 21
   dispatching ticks, 210 s, at today's values; an `advance` queued when a wave's last outcome
   arrives (a TransferComplete of the current wave) would release the next wave at once instead
   of at the next tick (half an interval per wave on average). The batch bounds a tick's
   transaction (see the ticks' run time above), so a larger batch trades transaction length for
   throughput.""",
    "cr": """**The connection requests**: one Celery task per box on the `acs` queue, each two blocking
   HTTP GETs (digest challenge and answer) and a device-event write, in the same 2-process pool
   as the ticks; a burst of 500 of them queues in front of the next tick (see the `acs` queue
   peak). A worker of its own for `acs` with a threaded pool (the task waits on the network)
   keeps them off the ticks' processes, and more of them run at once.""",
    "cpu": """**CPU**: on this two-core machine the uvicorn workers (three CWMP sessions and a firmware
   download per box), PostgreSQL, the Celery pool and cpesim share two cores with other
   engineers' work; the run-queue figures above show how long they waited for one. An idle
   machine, or more cores with more uvicorn workers, removes that wait; fewer statements per
   CWMP session (docs/benchmarks/acs-sessions.md has the per-session costs) lower the demand.""",
}
MOVE_ORDER = {
    "engine": ("engine", "cr", "cpu"),
    "celery": ("cr", "engine", "cpu"),
    "process": ("cpu", "engine", "cr"),
    "machine": ("cpu", "engine", "cr"),
    "pipeline": ("cr", "cpu", "engine"),
}


MOVES["package_lock"] = """**The package row lock** (product code: `fus/rollouts/engine.py` `tick`,
   `fus/rollouts/services.py` `_locked`): `Rollout.objects.select_for_update()
   .select_related("package")` locks the joined `fus_firmwarepackage` row as well (PostgreSQL
   locks the rows of every table in the FROM clause unless `of=("self",)`), for the whole tick.
   Every firmware download of that package inserts a `DownloadRecord` (foreign key to the
   package), which waits for the tick's transaction to end: the `fus_downloadrecord` rows of the
   lock-wait table. Locking the rollout row alone (`select_for_update(of=("self",))`) lets
   downloads run during a tick (checked by hand on PostgreSQL 15: with the join locked the insert
   waits until its lock timeout, with `of=("self",)` it commits at once)."""


def package_lock_seen(blocked: Counter) -> bool:
    """Downloads' DownloadRecord inserts seen waiting for a lock (the tick's package row)."""
    return any('INSERT INTO "fus_downloadrecord"' in waiting for _, waiting, _ in blocked)


def move_it(verdict: str, blocked: Counter) -> str:
    order = list(MOVE_ORDER[verdict])
    if package_lock_seen(blocked):
        order.insert(1, "package_lock")
    items = "\n".join(f"{n}. {MOVES[key]}" for n, key in enumerate(order, start=1))
    return f"## What would move it\n\nIn order of expected gain here:\n\n{items}\n"


def _verdict_figures(r: dict) -> dict:
    """The numbers the verdict texts quote."""
    run = r["phases"]["run"]
    stages = {
        k: v for k, v in r["analysis"]["stages"].items() if k != "dispatched -> outcome (per box)"
    }
    stage = max(stages, key=lambda k: stages[k][0]) if stages else "(none)"
    box = r["analysis"]["stages"].get("dispatched -> outcome (per box)", (0.0, 0.0, 0.0))
    return {
        "wait_ratio": sum(run["waits"].values()) / max(sum(run["groups"].values()), 1e-9),
        "box_p50": box[0],
        "interval": engine_floor([1])[2],
        "stage": stage,
        "stage_p50": stages.get(stage, (0.0,))[0],
        "concurrency": CELERY_CONCURRENCY,
        "acs_peak": max((t[3].get("acs", 0) for t in r["timeline"]), default=0),
        "uvicorn": (run["groups"].get("uvicorn", 0) + run["waits"].get("uvicorn", 0)) / run["wall"],
        "ncpu": os.cpu_count(),
        "pool_busy": 100
        * sum(sum(v) for v in r["task_times"].values())
        / (run["wall"] * CELERY_CONCURRENCY),
        "machine": 100 * run["machine_busy"] / run["wall"] / (os.cpu_count() or 1),
    }


def _scale_note(boxes: int, load: tuple[float, float, float]) -> str:
    if boxes >= 10_000:
        return ""
    why = (
        f"the machine's load average was {load[0]:.1f} (above 4: other engineers' work), so the "
        "full run was not started"
        if load[0] > 4
        else "a smaller run than the default"
    )
    return f"**{boxes:,} boxes, not the 10,000 of the goal**: {why}.\n\n"


def render(**r) -> str:
    boxes, phases, analysis, rollout = r["boxes"], r["phases"], r["analysis"], r["rollout"]
    reg, plan, run = phases["registration"], phases["planning"], phases["run"]
    first, last = r["registration"]
    wave_rows = []
    for number, name, size, released_at, rows in analysis["waves"]:
        start = rows["first"]
        end = rows["last"]
        span = (end - released_at).total_seconds() if end and released_at else float("nan")
        wave_rows.append(
            f"| {number} {name} | {size:,} | {rows['n']:,} | "
            f"{released_at:%H:%M:%S} | {start:%H:%M:%S} | {end:%H:%M:%S} | {span:.0f} |"
            if released_at and start and end
            else f"| {number} {name} | {size:,} | {rows['n']:,} | | | | |"
        )
    ticks = analysis["ticks"]
    full = sum(1 for _, n in ticks if n >= 500)
    gaps = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(ticks)]
    stage_rows = "\n".join(
        f"| {name} | {p50:.1f} | {p95:.1f} | {mx:.1f} |"
        for name, (p50, p95, mx) in analysis["stages"].items()
    )
    peak_queues = {
        q: max((t[3].get(q, 0) for t in r["timeline"]), default=0) for q in ("default", "acs")
    }
    per_box = run["wall"] / boxes
    verdict, lines = bottleneck(r)
    floor = engine_floor([size for _, size in r["waves"]])[0]
    evidence = "\n".join(lines)
    command = f"python -m tests.bench.rollout_fleet --boxes {boxes}"
    if r["args"].session_concurrency != 32:
        command += f" --session-concurrency {r['args'].session_concurrency}"
    return f"""# Benchmark: a managed rollout of {boxes:,} cpesim boxes, wall time and bottleneck

Produced by `{command}` (also in `make bench`, with 10,000 boxes) at commit {r["commit"]}, on
{r["started_at"]:%Y-%m-%d %H:%M} UTC, on this shared {os.cpu_count()}-core machine: load average {r["load_before"][0]:.2f} / {r["load_before"][1]:.2f} /
{r["load_before"][2]:.2f} before the run (other engineers' work runs at the same time: read the
ratios and the CPU shares more than the absolute seconds).

{_scale_note(boxes, r["load_before"])}## Set-up

* PostgreSQL 15, database `{r["database"]}` (dropped and created per run); uvicorn with
  {UVICORN_WORKERS} worker processes (`DATABASE_POOL_SIZE=8`), a Celery worker `-Q default,acs
  --concurrency {CELERY_CONCURRENCY}` and Celery beat (the rollout tick every 10 s), as `runportal`
  runs them; broker: {r["broker"]}.
* `CWMP_AUTH=none` (the ACS does not authenticate the boxes; as the 1,000-box test), connection
  requests with **digest** (each box challenges; the ACS answers with the box's factory
  credentials, imported before planning). `CWMP_UNKNOWN_DEVICES=known-ouis`, transcripts at their
  default (5 per device), `CWMP_MAX_CONCURRENT_SESSIONS=100000`.
* cpesim: {boxes:,} boxes of one class, `--ramp 0` (all power on at once), {r["args"].session_concurrency}
  sessions and downloads in flight at most, periodic Inform once a day (only connection requests
  bring them back), a simulated reboot of 0.05 s. Firmware: a {r["image_bytes"]:,}-byte cpesim image
  served by the portal's `/firmware/`.
* Rollout: waves canary 1 %, 10 %, 30 %, rest ({", ".join(f"{n} {s:,}" for n, s in r["waves"])});
  gate auto, success threshold 95 %, no soak; stop rule at its defaults (10 % over 60 min, sample
  20). Rate limits set out of the way — `max_concurrent` = {boxes:,} (every box),
  `starts_per_minute` = 1,000,000, no jitter — so the wall time is the system's, not a configured
  throttle. What still paces dispatch is the engine itself: at most 500 Downloads per tick
  (`engine.DISPATCH_BATCH`), one tick per beat interval (10 s) plus the on-demand ticks of start.

## Wall time

| phase | wall s | per box |
|---|---:|---:|
| registration (cpesim started → every box informed and in the registry) | {reg["wall"]:.1f} | {1000 * reg["wall"] / boxes:.1f} ms |
| of which first to last registration (device rows created) | {(last - first).total_seconds():.1f} | |
| planning (`create_rollout`: validate, plan {len(r["waves"])} waves) | {r["plan_s"]:.2f} | |
| run (`start_rollout` → completed) | {run["wall"]:.1f} | {1000 * per_box:.1f} ms |

Outcome: status **{rollout.status}**{(" — " + rollout.halt_reason) if rollout.halt_reason else ""};
{r["counts"]["succeeded"]:,} succeeded, {r["counts"]["failed"]:,} failed, {r["counts"]["timed_out"]:,}
timed out; {analysis["downloads"]:,} Download tasks for {analysis["boxes_with_downloads"]:,} boxes
({analysis["downloads_done"]:,} done), {r["upgraded"]:,} devices on 2.0.0 in the registry.
cpesim's counters at the end: `{r["cpesim_stats"]}`.

Per wave (clock times UTC; span = release → last outcome collected):

| wave | planned | members | released | first dispatched | last outcome | span s |
|---|---:|---:|---|---|---|---:|
{chr(10).join(wave_rows)}

Dispatching ticks: {len(ticks)} (each tick stamps its boxes with its own time), {full} of them
with a full batch of 500; interval between dispatching ticks: median {statistics.median(gaps) if gaps else 0:.1f} s.
Broker queue peaks (Redis lists, sampled each second): default {peak_queues["default"]}, acs
{peak_queues["acs"]}.

Per box, seconds (p50 / p95 / max):

| stage | p50 | p95 | max |
|---|---:|---:|---:|
{stage_rows}

Lock waits in PostgreSQL during the run (pg_stat_activity and `pg_blocking_pids` each second;
samples = seconds a backend was seen waiting; the blocker's statement is its current or, when
idle in a transaction, its last one):

{_lock_table(r["blocked"])}

## CPU by process

Registration ({reg["wall"]:.0f} s; load average {_load(reg)}):

{_cpu_table(reg)}

Run ({run["wall"]:.0f} s; load average {_load(run)}):

{_cpu_table(run)}

Busiest processes of the run:

{_proc_table(run)}

Planning took {plan["wall"]:.2f} s (in this driver; PostgreSQL {plan["groups"].get("postgres", 0):.2f} CPU s).

## The bottleneck

Of the run's {run["wall"]:.0f} s, the engine's pacing alone accounts for about {floor:.0f} s (the
"floor": the dispatching ticks its waves need, one per beat interval; the first tick runs at once
on start, so a run may come in a little under it). See the first line of the evidence.

{VERDICTS[verdict].format(**_verdict_figures(r))}

Evidence:

{evidence}

{move_it(verdict, r["blocked"])}"""


if __name__ == "__main__":
    main()
