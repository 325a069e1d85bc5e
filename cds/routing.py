"""Websocket routes of the CDS cards (included by portal.routing)."""

from django.urls import path

from cds.consumers import CdsConsumer

websocket_urlpatterns = [
    path("ws/cds/devices/<int:pk>/", CdsConsumer.as_asgi()),
]
