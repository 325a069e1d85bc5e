"""Two ticks of the same rollout at the same time (two threads, two database connections): the
rollout row lock makes them run one after the other, and nothing is doubled."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from acs.models import Task
from fus.models import RolloutDevice
from fus.rollouts import engine, services
from fus.services import catalogue
from portal.celery import app as celery_app
from tests.factories import make_package
from tests.fus.rollouts.conftest import make_fleet
from tests.fus.rollouts.helpers import create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager_celery():
    """Tasks sent on commit run inline (no broker is involved)."""
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = old


def test_concurrent_ticks_queue_each_download_once(tenants, eager_celery):
    if connection.vendor == "sqlite":
        pytest.skip("the in-memory SQLite test database is one connection: run on PostgreSQL")
    package = catalogue.approve_firmware(
        make_package(tenants["dc_a"], "2.0.0", actor=tenants["noc"]), actor=tenants["noc"]
    )
    make_fleet(tenants["dc_a"], 200)
    start_at = timezone.now() + timedelta(hours=1)
    rollout = create(
        package,
        tenants["noc"],
        stages=[{"percent": 100}],
        starts_per_minute=1000,
        max_concurrent=1000,
        start_at=start_at,
    )
    # start_rollout asks for a tick on commit: run it inline (nothing to do before start_at)
    services.start_rollout(rollout, actor=tenants["noc"])
    assert not Task.objects.exists()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(engine.tick(rollout.pk, now=start_at + timedelta(seconds=10)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(r.dispatched for r in results) == [0, 200]  # one did the work, one found it done
    assert Task.objects.filter(rpc="Download").count() == 200
    assert Task.objects.values("device").distinct().count() == 200
    assert RolloutDevice.objects.filter(rollout=rollout, state="in_flight").count() == 200
