"""The hooks into the ACS (it has no extension point): model signals on its rows.

* `Device` post_save from `acs.services.devices.apply_inform` (a full save): once the Inform's
  transaction commits, `inform_received` applies the profiles its events trigger. The tree is
  merged by then; tasks queued go out in the same CWMP session (the box's next POST).
* `Task` post_save: a task of a convergence ended (`task_finished`), inside the session's
  transaction, so a follow-up round is sent in the same session.
* `Compliance` post_save/post_delete (`acs.homenet.live`): the dashboard and the device's page are
  told after the commit.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_save

from acs.models import Device, Task

log = logging.getLogger("acs.homenet")


def _device_saved(sender, instance: Device, created: bool, update_fields=None, **kwargs) -> None:
    if update_fields is not None or instance.last_inform is None or not instance.last_events:
        return
    device_id = instance.pk
    events = tuple(instance.last_events)

    def run() -> None:
        from acs.homenet.services import inform_received

        try:
            inform_received(device_id, events)
        except Exception:  # the configurator must never break the ACS's answer
            log.exception("home-network profiles not applied to device %s", device_id)

    transaction.on_commit(run)


def _task_saved(sender, instance: Task, created: bool, **kwargs) -> None:
    if created:
        return
    from acs.homenet.services import task_finished

    task_finished(instance)


def connect_signals() -> None:
    from acs.homenet import live

    post_save.connect(_device_saved, sender=Device, dispatch_uid="homenet_device_saved")
    post_save.connect(_task_saved, sender=Task, dispatch_uid="homenet_task_saved")
    live.connect_signals()  # compliance changes pushed to the pages (websockets)
