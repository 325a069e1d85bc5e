"""Websocket routes of the ACS pages (included by portal.routing)."""

from django.urls import path

from acs.ui.consumers import DeviceConsumer

websocket_urlpatterns = [
    path("ws/devices/<int:pk>/", DeviceConsumer.as_asgi()),
]
