"""Celery tasks of the rollout engine (queue `default`): a beat tick every 10 s advances every
active rollout; services ask for an immediate `advance` of one rollout on commit. Both are
idempotent (`fus.rollouts.engine.tick` runs in one transaction with the rollout row locked)."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="fus.rollouts.advance", ignore_result=True)
def advance(rollout_id: int, **kwargs) -> str:
    """Advance one rollout now."""
    from fus.rollouts.engine import tick

    result = tick(rollout_id)
    return "inactive" if result is None else result.status


@shared_task(name="fus.rollouts.tick", ignore_result=True)
def tick_all(**kwargs) -> int:
    """The beat tick: advance every active rollout, one transaction each (one failing rollout
    does not stop the others)."""
    from fus.rollouts.engine import active_rollout_ids, tick

    done = 0
    for rollout_id in active_rollout_ids():
        try:
            tick(rollout_id)
            done += 1
        except Exception:
            log.exception("rollout %s: tick failed (the next tick tries again)", rollout_id)
    return done
