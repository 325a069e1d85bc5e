"""Template context of the ACS: a warning banner while boxes are accepted without authentication."""

from django.conf import settings


def cwmp_auth(request) -> dict:
    return {"cwmp_auth_none": str(getattr(settings, "CWMP_AUTH", "digest")).lower() == "none"}
