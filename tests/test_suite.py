"""Guards on the test suite's own machinery."""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("suite-guard")
def test_xdist_groups_keep_their_tests_together(request):
    """Tests sharing a process-wide resource (runportal's Redis database, the 1,000-box fleets)
    rely on `xdist_group` to run on one worker; pytest-xdist marks a grouped test by appending
    "@<group>" to its node id, which some pytest releases silently ignore (9.2)."""
    if not request.config.getvalue("loadgroup"):
        pytest.skip("not run with --dist loadgroup")
    assert request.node.nodeid.endswith("@suite-guard"), request.node.nodeid
