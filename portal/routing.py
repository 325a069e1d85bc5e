"""Websocket routes. Apps add their consumers here (live rollout progress, CDS task results)."""

websocket_urlpatterns: list = []
