"""django.request's 401 warnings: the boxes' digest challenges are not logged, other 401s are."""

import logging

import pytest
from django.test import RequestFactory

from portal.logging import DigestChallengeFilter


@pytest.mark.parametrize(
    ("path", "status", "kept"),
    [
        ("/cwmp", 401, False),
        ("/qrc", 401, False),
        ("/firmware/3/image.bin", 401, False),
        ("/api/devices/", 401, True),
        ("/cwmp", 400, True),
        ("/cwmp", 500, True),
    ],
)
def test_only_the_boxes_challenges_are_dropped(path, status, kept):
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "x", (), None)
    record.status_code = status
    record.request = RequestFactory().get(path)
    assert DigestChallengeFilter().filter(record) is kept


def test_the_settings_attach_it_to_django_request(settings):
    assert settings.LOGGING["loggers"]["django.request"]["filters"] == ["digest_challenges"]
    logger = logging.getLogger("django.request")
    assert any(isinstance(f, DigestChallengeFilter) for f in logger.filters)
