"""The engine in a real Celery worker and beat (separate processes, the embedded filesystem broker,
a SQLite file): a 300-box managed rollout completes wave by wave; the worker is killed (SIGKILL)
mid-rollout and restarted, and every box is upgraded exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rollout-worker")]
BOXES = 300


@pytest.fixture
def env(tmp_path):
    drop = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "CELERY_TASK_ALWAYS_EAGER")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        PORTAL_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="portal.settings",
        PYTHONUNBUFFERED="1",
        FUS_DOWNLOAD_BASE_URL="https://fus.example.net/firmware/",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True
    )
    return env


def script(env, *args) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.fus.rollouts.fleet_script", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def start(env, tmp_path, name: str, argv: list[str]) -> subprocess.Popen:
    with open(tmp_path / f"{name}.log", "a") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "portal", *argv],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def worker(env, tmp_path) -> subprocess.Popen:
    return start(
        env,
        tmp_path,
        "worker",
        ["worker", "-l", "INFO", "-Q", "default,acs", "--concurrency", "1", "-n", "rollouts@%h"],
    )


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(env, predicate, timeout: float, what: str) -> dict:
    """Poll the status until `predicate` holds (the worker's log in the failure message)."""
    deadline = time.monotonic() + timeout
    state = {}
    while time.monotonic() < deadline:
        state = json.loads(script(env, "status"))
        if predicate(state):
            return state
        time.sleep(1)
    log = Path(env["PORTAL_VAR_DIR"]).parent / "worker.log"
    tail = log.read_text()[-4000:] if log.exists() else ""
    pytest.fail(f"{what} not reached in {timeout} s; last state {state}\n{tail}")


def test_a_real_worker_runs_a_rollout_and_survives_being_killed(env, tmp_path):
    script(env, "setup", str(BOXES))
    w = worker(env, tmp_path)
    beat = start(
        env,
        tmp_path,
        "beat",
        ["beat", "-l", "INFO", "--schedule", str(tmp_path / "celerybeat-schedule")],
    )
    try:
        # the worker's on-demand tick (queued by start_rollout) releases the canary
        state = wait_for(env, lambda s: s["downloads"] == 10, 90, "the canary's 10 Downloads")
        assert state["current_wave"] == 0 and state["status"] == "running"
        script(env, "play")
        # beat's tick collects the canary and queues wave 1 (120 boxes)
        wait_for(env, lambda s: s["downloads"] == 130, 90, "wave 1's Downloads")
        stop(w, signal.SIGKILL)  # killed mid-rollout: wave 1 in flight
        script(env, "play")
        time.sleep(12)  # beat keeps queueing ticks nobody consumes
        w = worker(env, tmp_path)  # restarted
        state = wait_for(env, lambda s: s["downloads"] == BOXES, 120, "the last wave's Downloads")
        script(env, "play")
        state = wait_for(env, lambda s: s["status"] == "completed", 90, "completion")
    finally:
        stop(w)
        stop(beat)
    assert state["counts"]["succeeded"] == BOXES
    assert state["upgraded"] == BOXES
    assert state["downloads"] == BOXES == state["boxes_with_downloads"]  # each box exactly once
