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
from tests.factories import make_package
from tests.fus.rollouts.conftest import make_fleet
from tests.fus.rollouts.helpers import create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager_celery(settings):
    """Tasks sent on commit run inline (no broker is involved). Through Django's settings, which
    Celery reads on every lookup: setting `app.conf` itself would outlive the test."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


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


def test_a_tick_leaves_the_package_row_unlocked_for_downloads(tenants):
    """While a tick holds its rollout (seconds, at scale), a download of the package must be able
    to record itself: its DownloadRecord references the package row, which the tick must not lock
    (PostgreSQL: a row lock taken through the join would make that INSERT wait)."""
    if connection.vendor == "sqlite":
        pytest.skip("row locks are a PostgreSQL matter: the SQLite test database has none")
    from django.db import OperationalError, transaction

    package = catalogue.approve_firmware(
        make_package(tenants["dc_a"], "2.0.0", actor=tenants["noc"]), actor=tenants["noc"]
    )
    make_fleet(tenants["dc_a"], 10)
    rollout = create(package, tenants["noc"], stages=[{"percent": 100}])
    outcome: dict[str, object] = {}

    def other_connection():
        """Another database connection (this thread's own), as a download's request has."""
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SET lock_timeout = '1s'")
                try:  # what an INSERT referencing the package takes: must not wait
                    cursor.execute(
                        'SELECT 1 FROM "fus_firmwarepackage" WHERE id = %s FOR KEY SHARE',
                        [package.pk],
                    )
                    outcome["package"] = "free"
                except OperationalError:
                    outcome["package"] = "locked"
                cursor.execute("ROLLBACK")
                try:  # the rollout row itself is locked
                    cursor.execute(
                        'SELECT 1 FROM "fus_rollout" WHERE id = %s FOR UPDATE', [rollout.pk]
                    )
                    outcome["rollout"] = "free"
                except OperationalError:
                    outcome["rollout"] = "locked"
        finally:
            connections["default"].close()

    with transaction.atomic():
        locked = services._locked(rollout)  # what tick() and every control take
        assert locked.package_id == package.pk
        thread = threading.Thread(target=other_connection)
        thread.start()
        thread.join(30)
    assert outcome == {"package": "free", "rollout": "locked"}
