"""Websocket routes of the rollout pages (included by portal.routing)."""

from django.urls import path

from fus.rollouts.consumers import RolloutConsumer

websocket_urlpatterns = [
    path("ws/rollouts/<int:pk>/", RolloutConsumer.as_asgi()),
]
