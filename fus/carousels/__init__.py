"""Running multicast carousels (not pure: Django and Celery). See docs/multicast.md.

- `content`: what a carousel sends, built from the catalogue (packages, their metadata as the
  rollouts gate allows, the FUS stub and SD&S record) into datagrams with `fus.multicast`;
- `sender`: the UDP multicast socket and the pacer (no Django, reused by the benchmark);
- `loop`: the long-running loop (heartbeat, stop, reload on change, counters) that the Celery task
  `fus.carousels.run` and `manage.py run_carousel ID` both run;
- `tasks`: the Celery tasks (the loop on queue `carousel`, the beat-driven watchdog).
"""
