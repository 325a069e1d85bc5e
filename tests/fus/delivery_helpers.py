"""Builders shared by the QRC, download and report tests: approved packages with real files."""

from __future__ import annotations

import os

from fus.services import catalogue
from tests.factories import make_package


def approved_package(device_class, version="2.0.0", *, data=None, actor=None, **fields):
    """A package of `device_class` with one image (random bytes unless given), approved."""
    data = os.urandom(300_000) if data is None else data
    package = make_package(device_class, version, data=data, **fields)
    return catalogue.approve_firmware(package, actor=actor)
