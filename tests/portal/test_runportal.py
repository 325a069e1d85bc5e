"""`make run`'s supervisor for real: uvicorn, a Celery worker and beat as separate processes.

Runs against its own runtime folder (SQLite file, filesystem broker) unless the environment sets
DATABASE_URL/REDIS_URL, in which case the real PostgreSQL and Redis are used — as in CI. Only
SQLite runs are isolated enough to migrate and seed here; with a DATABASE_URL the processes are
pointed at a throw-away SQLite file too, and Redis (if set) carries the Celery messages.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runportal")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    var = tmp_path_factory.mktemp("portal-var")
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        PORTAL_VAR_DIR=str(var),
        DJANGO_SETTINGS_MODULE="portal.settings",
        PYTHONUNBUFFERED="1",
        # as `make run`: the demo fleet, logging in with the credentials the supervisor makes
        PORTAL_DEMO_FLEET="true",
        PORTAL_DEMO_FLEET_LISTEN=f"127.0.0.1:{_free_port()}",
        CWMP_AUTH="digest",
        CWMP_BOOTSTRAP_USERNAME="",
        CWMP_BOOTSTRAP_PASSWORD="",
    )
    if env.get("REDIS_URL"):
        env["REDIS_URL"] = env["REDIS_URL"].rsplit("/", 1)[0] + "/7"  # our own Redis database
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    seeded = subprocess.run(
        [*manage, "seed_demo"], env=env, check=True, cwd=ROOT, capture_output=True, text=True
    )
    port = _free_port()
    log = open(var / "runportal.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [*manage, "runportal", "--port", str(port), "--concurrency", "1"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/login/", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"portal did not answer in 60 s:\n{(var / 'runportal.log').read_text()}")
    yield {
        "proc": proc,
        "base": base,
        "env": env,
        "var": var,
        "seed_output": seeded.stdout,
        "manage": manage,
    }
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    log.close()


def test_the_demo_fleet_logs_in_and_gets_its_own_credentials(portal):
    """The 20 demo boxes reach /cwmp through digest authentication with the supervisor's
    first-contact credentials and are each given their own."""
    script = (
        "from acs.models import Device; "
        "print(Device.objects.count(), Device.objects.exclude(cwmp_username='').count())"
    )
    deadline = time.monotonic() + 180  # a loaded CI machine: boxes that fail back off
    while True:
        out = subprocess.run(
            [*portal["manage"], "shell", "-c", script],
            env=portal["env"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        counts = out.stdout.split()[-2:] if out.returncode == 0 else []
        if counts == ["20", "20"] or time.monotonic() > deadline:
            break
        time.sleep(2)
    log = (portal["var"] / "runportal.log").read_text(errors="replace")
    fleet_lines = [line for line in log.splitlines() if "cpesim" in line][-20:]
    assert counts == ["20", "20"], (out.stdout, out.stderr[-2000:], fleet_lines, log[-3000:])
    assert (portal["var"] / "demo_fleet_password").stat().st_mode & 0o777 == 0o600


def test_seed_prints_the_demo_logins(portal):
    out = portal["seed_output"]
    for user in ("admin", "noc", "helpdesk", "supplier-a", "supplier-b"):
        assert user in out


def test_login_page_and_static_files_are_served(portal):
    page = urllib.request.urlopen(f"{portal['base']}/login/").read().decode()
    assert 'name="username"' in page and "RMS-FUS Portal" in page
    css = urllib.request.urlopen(f"{portal['base']}/static/portal/portal.css")
    assert css.status == 200 and b"--brand" in css.read()


def test_a_real_worker_runs_tasks(portal):
    code = "from portal.tasks import ping; print(ping.delay().get(timeout=60)['host'])"
    result = subprocess.run(
        [*portal["manage"], "shell", "--no-imports", "-c", code],
        env=portal["env"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == socket.gethostname()


def test_beat_installed_the_periodic_schedule(portal):
    code = (
        "from django_celery_beat.models import PeriodicTask; "
        "print(PeriodicTask.objects.filter(task='fus.uploads.purge_stale').count())"
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = subprocess.run(
            [*portal["manage"], "shell", "--no-imports", "-c", code],
            env=portal["env"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if out == "1":
            return
        time.sleep(1)
    pytest.fail("beat did not install the purge-stale-uploads schedule")


def test_upload_cut_off_mid_request_leaves_nothing(portal):
    """A client that announces 20 MB, sends 2 MB and hangs up: no file and no row remain."""
    host, port = portal["base"].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(
            b"POST /supplier/upload/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: 20000000\r\n\r\n"
            b'--XX\r\nContent-Disposition: form-data; name="files"; filename="a.img"\r\n\r\n'
        )
        s.sendall(b"\0" * 2_000_000)
    time.sleep(2)
    incoming = portal["var"] / "media" / ".incoming"
    assert not incoming.exists() or not any(incoming.iterdir())
    assert portal["proc"].poll() is None  # still serving


def test_ctrl_c_stops_every_process(portal):
    proc = portal["proc"]
    children = subprocess.run(
        ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
    ).stdout.split()
    assert len(children) == 5  # web, worker, carousel worker, beat, demo fleet
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=40) == 0
    time.sleep(0.5)
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert alive == [], f"children left running: {alive}"
    # the demo fleet kept its boxes' flash (own credentials) for the next `make run`
    boxes = json.loads((portal["var"] / "demo-fleet-state.json").read_text())["boxes"]
    assert len(boxes) == 20
    assert all(b["bootstrapped"] for b in boxes.values())
    assert all(
        b["values"]["Device.ManagementServer.Username"] != "demo-fleet" for b in boxes.values()
    )
