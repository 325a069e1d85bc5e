"""Run by the real-worker test in its own processes (`python -m tests.fus.rollouts.fleet_script
<command>` with the test's PORTAL_VAR_DIR): set up a fleet and a rollout, play the boxes (take the
queued Downloads and report TransferComplete through the ACS services), print the state."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup()

from django.utils import timezone  # noqa: E402

from acs.models import Device, Task  # noqa: E402
from fus.models import Rollout  # noqa: E402
from fus.rollouts import engine, services  # noqa: E402
from fus.services import catalogue  # noqa: E402
from tests.factories import DeviceClassFactory, ManufacturerFactory, UserFactory, make_package  # noqa: E402
from tests.fus.rollouts.conftest import make_fleet  # noqa: E402
from tests.fus.rollouts.helpers import upgrade  # noqa: E402


def setup(n: int) -> None:
    noc = UserFactory(username="noc", role="noc")
    maker = ManufacturerFactory(name="Alpha", ouis=["00D09E"])
    device_class = DeviceClassFactory(manufacturer=maker, product_class="A-STB")
    package = catalogue.approve_firmware(make_package(device_class, "2.0.0", actor=noc), actor=noc)
    make_fleet(device_class, n)
    rollout = services.create_rollout(
        package,
        {
            "name": "worker test",
            "channels": ["managed"],
            "stages": [{"name": "canary", "count": 10}, {"percent": 40}, {"percent": 100}],
            "starts_per_minute": 100_000,
            "max_concurrent": 100_000,
            "min_sample": 5,
        },
        actor=noc,
    )
    services.start_rollout(rollout, actor=noc)  # asks the worker for a tick on commit
    print(rollout.pk)


def play() -> None:
    """Every box with a Download takes it and upgrades."""
    now = timezone.now()
    for task in Task.objects.filter(rpc="Download", state="queued").select_related("device"):
        upgrade(task, now=now)


def status() -> None:
    rollout = Rollout.objects.get()
    downloads = Task.objects.filter(rpc="Download")
    print(
        json.dumps(
            {
                "status": rollout.status,
                "current_wave": rollout.current_wave,
                "counts": engine.state_counts(rollout),
                "downloads": downloads.count(),
                "boxes_with_downloads": downloads.values("device").distinct().count(),
                "upgraded": Device.objects.filter(software_version="2.0.0").count(),
                "last_tick": rollout.last_tick.isoformat() if rollout.last_tick else None,
            }
        )
    )


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "setup":
        setup(int(sys.argv[2]))
    elif command == "play":
        play()
    else:
        status()
