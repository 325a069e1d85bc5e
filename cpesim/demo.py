"""The small fleet `make run` starts beside the portal (``PORTAL_DEMO_FLEET``): 20 boxes of the demo
device classes of ``portal/management/commands/seed_demo.py``, one version behind the demo
firmware so a rollout has something to do."""

from __future__ import annotations

#: (OUI, product class, count, first serial, software version, hardware version)
DEMO_GROUPS = (
    ("00D09E", "NL-STB4000", 8, 4000001, "4.1.0", "1.1"),
    ("00D09E", "NL-STB4500", 6, 4500001, "2.3.0", "2.0"),
    ("3C62F0", "MX-300", 6, 300001, "7.0.2", "A2"),
)


def demo_argv(
    acs_url: str,
    *,
    username: str = "",
    password: str = "",
    listen: str = "127.0.0.1:7548",
    periodic_interval: int = 300,
    state: str = "",
) -> list[str]:
    """Arguments of ``python -m cpesim`` for the demo fleet."""
    argv = [
        "--acs",
        acs_url,
        "--listen",
        listen,
        "--periodic-interval",
        str(periodic_interval),
        "--manufacturer",
        "Demo",
        "--ramp",
        "10",
        "--stats-interval",
        "300",
    ]
    for oui, product_class, count, start, software, hardware in DEMO_GROUPS:
        argv += ["--group", f"{oui}:{product_class}:{count}:{start}:{software}:{hardware}"]
    if username:
        argv += ["--username", username, "--password", password]
    if state:  # the boxes keep their firmware and ACS-given credentials across restarts
        argv += ["--state", state]
    return argv
