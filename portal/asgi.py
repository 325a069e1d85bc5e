"""ASGI entry point served by uvicorn (`make run`; daphne only for `manage.py runserver`): HTTP (UI,
REST, CWMP, downloads) and websockets.

`/qrc` skips Django's ASGI handler and the portal's middleware: it goes straight to the QRC's lean
entry (`fus.qrc.asgi`: the same view, ALLOWED_HOSTS, request signals and body cap, none of the
sessions, CSRF or browser headers a SOAP box never uses). Boxes call it by the million; that
handler and middleware cost three times the QRC's own work per check (docs/benchmarks/qrc.md).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry ready)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from fus.qrc import asgi as qrc_asgi  # noqa: E402
from portal.routing import websocket_urlpatterns  # noqa: E402


async def http_application(scope, receive, send):
    """The QRC's path to its lean entry, everything else to Django."""
    if scope.get("path") == qrc_asgi.PATH:
        await qrc_asgi.application(scope, receive, send)
    else:
        await django_asgi_app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
