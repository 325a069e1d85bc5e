"""A lean ASGI entry for the QRC alone: `uvicorn fus.qrc.asgi:application`, behind a proxy that
sends `/qrc` to it (docs/qrc.md, "Serving the QRC at scale"); `portal.asgi` also sends `/qrc` here.

The same Django view (`fus.qrc.views.qrc_endpoint`: the one spyne mounting, its body limit, DTD
refusal, digest challenge) on a Django `ASGIRequest`, without Django's ASGI handler and the portal's
middleware (`portal.lean` says what is kept and what is left out). The body is read at most to
`FUS_QRC_MAX_BODY` + 1 bytes (the view then answers `Client.RequestTooLong`). Requests run in a
pool of `FUS_QRC_THREADS` threads (default 4). Only `/qrc` is served; anything else is 404.
"""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup(set_prefix=False)

from fus.delivery.conf import delivery_settings  # noqa: E402  (after setup)
from fus.qrc.views import qrc_endpoint  # noqa: E402
from portal.lean import LeanEndpoint, threads_from_environment  # noqa: E402

PATH = "/qrc"

application = LeanEndpoint(
    name="qrc",
    paths=(PATH,),
    view=qrc_endpoint,
    max_body=lambda: delivery_settings().qrc_max_body,
    threads=threads_from_environment("FUS_QRC_THREADS"),
)
