"""ASGI entry point served by uvicorn (`make run`; daphne only for `manage.py runserver`): HTTP (UI,
REST, CWMP, downloads) and websockets.

`/qrc` and `/cwmp` skip Django's ASGI handler and the portal's middleware: they go straight to
their lean entries (`fus.qrc.asgi`, `acs.asgi`: the same views, ALLOWED_HOSTS, request signals and
body caps, none of the sessions, CSRF or browser headers a box never uses; `portal.lean`). Boxes
call them by the million; that handler and middleware cost several times the QRC's own work per
check and as much as a periodic CWMP session's own work (docs/benchmarks/qrc.md,
docs/benchmarks/acs-sessions.md).
"""

import asyncio
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry ready)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from acs import asgi as cwmp_asgi  # noqa: E402
from fus.qrc import asgi as qrc_asgi  # noqa: E402
from portal import live  # noqa: E402
from portal.routing import websocket_urlpatterns  # noqa: E402


async def http_application(scope, receive, send):
    """The QRC's and CWMP's paths to their lean entries, everything else to Django."""
    path = scope.get("path", "")
    if qrc_asgi.application.serves(path):
        await qrc_asgi.application(scope, receive, send)
    elif cwmp_asgi.application.serves(path):
        await cwmp_asgi.application(scope, receive, send)
    else:
        # Where the process's live announcements go (the lean entries attach it themselves).
        live.attach(asyncio.get_running_loop())
        await django_asgi_app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
