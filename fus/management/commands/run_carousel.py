"""`manage.py run_carousel ID`: run a carousel's loop in the foreground (the same loop the Celery
task runs), until Ctrl-C or until an operator stops it. It takes the carousel over: a loop running
in a worker sees itself superseded and ends."""

from __future__ import annotations

import signal
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from fus.carousels.loop import run_loop
from fus.models import Carousel, CarouselRun, CarouselState


class Command(BaseCommand):
    help = "Run one multicast carousel in the foreground (Ctrl-C stops it)."

    def add_arguments(self, parser):
        parser.add_argument("carousel_id", type=int)

    def handle(self, *args, carousel_id: int, **options):
        try:
            carousel = Carousel.objects.get(pk=carousel_id)
        except Carousel.DoesNotExist:
            raise CommandError(f"No carousel with id {carousel_id}.") from None
        run_id = uuid.uuid4()
        with transaction.atomic():
            run, _ = CarouselRun.objects.select_for_update().get_or_create(carousel=carousel)
            run.run_id, run.state, run.dispatched_at = (
                run_id,
                CarouselState.STARTING,
                timezone.now(),
            )
            run.save()
            # In the foreground the carousel runs for as long as the command does.
            Carousel.objects.filter(pk=carousel.pk).update(desired_running=True)
        stop = {"now": False}

        def interrupt(signum, frame):
            stop["now"] = True

        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)
        self.stdout.write(
            f"Running {carousel} ({carousel.kind}) to {carousel.group}:{carousel.port}; Ctrl-C stops it."
        )
        reason = run_loop(carousel.pk, run_id, should_stop=lambda: stop["now"])
        if stop["now"]:
            Carousel.objects.filter(pk=carousel.pk).update(desired_running=False)
            CarouselRun.objects.filter(carousel=carousel, run_id=run_id).update(
                state=CarouselState.STOPPED
            )
        run = CarouselRun.objects.get(carousel=carousel)
        self.stdout.write(
            f"Ended ({reason}): {run.cycles} cycles, {run.packets} packets, {run.bytes_sent} bytes, {run.errors} errors."
        )
