"""The project package and shared core: settings, URLs, ASGI, Celery, roles, restrict(), audit."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
