"""Websocket routes. Apps add their consumers here (live rollout progress, CDS task results)."""

from acs.homenet.routing import websocket_urlpatterns as homenet_websockets
from acs.ui.routing import websocket_urlpatterns as device_websockets
from cds.routing import websocket_urlpatterns as cds_websockets
from fus.rollouts.routing import websocket_urlpatterns as rollout_websockets

websocket_urlpatterns: list = [
    *device_websockets,
    *cds_websockets,
    *rollout_websockets,
    *homenet_websockets,
]
