"""Logging filters for the settings' LOGGING."""

from __future__ import annotations

import logging

#: Paths where a 401 is the protocol's first step (HTTP digest: challenge, then the answer), not
#: a warning: boxes start every CWMP session, QRC check or protected download with one.
CHALLENGED_PATHS = ("/cwmp", "/qrc", "/firmware/")


class DigestChallengeFilter(logging.Filter):
    """Drops django.request's "Unauthorized" warning for the challenges boxes get by the million;
    refusals the ACS decides are logged by the ACS itself, with the reason."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 401:
            return True
        request = getattr(record, "request", None)
        path = getattr(request, "path", "") or ""
        return not path.startswith(CHALLENGED_PATHS)
