"""The hook into the ACS: when a task ends, `cds.services.storage.task_finished` reads the answer
of a CDS step (the ACS services have no completion callback; their `Task.save()` is the event)."""

from __future__ import annotations

from django.db.models.signals import post_save

from acs.models import Task


def _task_saved(sender, instance: Task, created: bool, **kwargs) -> None:
    if created:
        return
    from cds.services.storage import task_finished

    task_finished(instance)


def connect_signals() -> None:
    post_save.connect(_task_saved, sender=Task, dispatch_uid="cds_task_saved")
