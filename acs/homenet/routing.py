"""Websocket routes of the configurator's pages (included by portal.routing)."""

from django.urls import path

from acs.homenet.consumers import DashboardConsumer, DeviceComplianceConsumer

websocket_urlpatterns = [
    path("ws/home-network/", DashboardConsumer.as_asgi()),
    path("ws/home-network/devices/<int:pk>/", DeviceComplianceConsumer.as_asgi()),
]
