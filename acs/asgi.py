"""A lean ASGI entry for the CWMP endpoint alone: `uvicorn acs.asgi:application`, for ACS worker
processes of their own behind a proxy that sends `/cwmp` to them (docs/acs.md, "Serving CWMP at
scale"); `portal.asgi` also sends `/cwmp` here, so `make run` and every portal process use it.

The same plain Django view (`acs.views.cwmp_endpoint`: body limit, digest, cookie-bound sessions,
503 above the concurrency limit) on a Django `ASGIRequest`, without Django's ASGI handler and the
portal's middleware (`portal.lean` says what is kept and what is left out). The body is read at
most to `CWMP_MAX_BODY` + 1 bytes (the view then answers 413). Requests run in a pool of
`CWMP_THREADS` threads (default 4). Only `/cwmp` and `/cwmp/` are served; anything else is 404.
"""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup(set_prefix=False)

from acs.conf import acs_settings  # noqa: E402  (after setup)
from acs.views import cwmp_endpoint  # noqa: E402
from portal.lean import LeanEndpoint, threads_from_environment  # noqa: E402

PATHS = ("/cwmp", "/cwmp/")

application = LeanEndpoint(
    name="cwmp",
    paths=PATHS,
    view=cwmp_endpoint,
    max_body=lambda: acs_settings().max_body,
    threads=threads_from_environment("CWMP_THREADS"),
)
