"""``python -m cpesim --gateway/--sensor``: home gateways with the fleet's set-top boxes and sensors
behind them — the parsing, and one real run of the command line against the portal's /cwmp served
by pytest-django's live server (a real HTTP server thread)."""

from __future__ import annotations

import pytest

from cpesim.cli import groups_from, main, parser
from cpesim.gateway import MAX_HOSTS, host_mac


def groups(*argv: str):
    return groups_from(parser().parse_args(["--acs", "http://acs.example/cwmp", *argv]))


def test_one_gateway_lists_every_set_top_box_and_sensor_as_its_hosts():
    out = groups(
        "--group", "00D09E:NL-STB4000:4:1000",
        "--sensor", "0050C2:HS-100:2:1",
        "--gateway", "00D09E:HGW-1:1:9000:2.0.1",
        "--wireless-stbs", "0.5",
        "--serial-format", "SN{:05d}",
    )  # fmt: skip
    kinds = [(g.spec.kind, g.spec.product_class, g.count) for g in out]
    assert kinds == [("stb", "NL-STB4000", 4), ("sensor", "HS-100", 2), ("gateway", "HGW-1", 1)]
    gateway = out[-1]
    assert (gateway.serial_start, gateway.serial_format, gateway.software_version) == (
        9000,
        "SN{:05d}",
        "2.0.1",
    )
    hosts = gateway.spec.hosts
    assert [h[0] for h in hosts] == [
        host_mac("00D09E", "SN01000"),
        host_mac("00D09E", "SN01001"),
        host_mac("00D09E", "SN01002"),
        host_mac("00D09E", "SN01003"),
        host_mac("0050C2", "SN00001"),
        host_mac("0050C2", "SN00002"),
    ]
    assert [h[3] for h in hosts] == ["802.11", "802.11", "Ethernet", "Ethernet", "802.11", "802.11"]
    assert [h[2] for h in hosts][-1] == "sensor-SN00002"
    assert len({h[1] for h in hosts}) == 6  # one address each


def test_several_gateways_share_the_boxes_out_in_order():
    out = groups(
        "--count", "5", "--serial-start", "1",
        "--gateway", "00D09E:HGW-1:2:100",
    )  # fmt: skip
    gateways = [g for g in out if g.spec.kind == "gateway"]
    assert [g.serial_start for g in gateways] == [100, 101]
    shares = [[h[2] for h in g.spec.hosts] for g in gateways]
    assert shares == [
        ["stb-00000001", "stb-00000002", "stb-00000003"],
        ["stb-00000004", "stb-00000005"],
    ]
    # The default --wireless-stbs 0.25: one of three (rounded), none of two... rounded half even.
    assert [h[3] for h in gateways[0].spec.hosts].count("802.11") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--gateway", "00D09E:HGW-1:1"], "--gateway '00D09E:HGW-1:1': expected OUI:CLASS"),
        (["--gateway", "ZZ:HGW-1:1:1"], "--gateway 'ZZ:HGW-1:1:1': OUI 'ZZ' must be six hex"),
        (["--sensor", "0050C2:HS:x:1"], "--sensor '0050C2:HS:x:1': invalid literal"),
        (
            ["--count", str(MAX_HOSTS + 1), "--gateway", "00D09E:HGW-1:1:1"],
            "--gateway: 101 hosts behind one gateway exceed its DHCP pool of 100 addresses",
        ),
    ],
)
def test_bad_gateway_options_name_the_option_and_value(argv, message):
    with pytest.raises(SystemExit) as exit_:
        groups(*argv)
    assert str(exit_.value).startswith(message)


def test_gateways_and_sensors_need_managed_mode(capsys):
    with pytest.raises(SystemExit):
        main(["--mode", "unmanaged", "--fus", "http://x", "--gateway", "00D09E:HGW-1:1:1"])
    assert "--gateway and --sensor need --mode managed" in capsys.readouterr().err


def test_a_serial_shared_by_a_gateway_and_a_box_is_refused(capsys):
    argv = ["--acs", "http://127.0.0.1:9/cwmp", "--no-listener", "--duration", "0"]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--count", "1", "--gateway", "00D09E:HGW-1:1:1"])
    assert "two boxes would share the identity 00D09E-00000001" in str(exit_.value)


@pytest.mark.django_db(transaction=True)
def test_command_line_gateway_run_against_the_live_acs(tenants, live_server, settings):
    """The real thing: the command line's fleet informs the portal over HTTP; an enabled gateway
    profile converges the gateway; the ACS then reads its hosts: the boxes of the same fleet."""
    from acs.homenet.choices import ComplianceState
    from acs.homenet.library import LIBRARY
    from acs.homenet.models import Compliance, Profile
    from acs.homenet.presenters import home_network
    from acs.homenet.services import save_profile, tree_of
    from acs.models import Device
    from acs.services.tasks import refresh_parameters

    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    (igmp,) = [e for e in LIBRARY if e["name"] == "Gateway: IGMP proxy for IPTV"]
    save_profile(
        Profile(
            name="igmp",
            triggers=["bootstrap"],
            values=igmp["values"],
        ),
        actor=None,
    )
    argv = ["--acs", f"{live_server.url}/cwmp", "--no-listener", "--duration", "4"]
    argv += [
        "--stats-interval",
        "1",
        "--ramp",
        "0",
        "--manufacturer",
        "Alpha",
        "--concurrency",
        "1",
    ]
    argv += ["--group", "00D09E:A-STB:2:7001:1.0.0", "--sensor", "0050C2:HS-100:1:7101"]
    argv += ["--gateway", "00D09E:A-GW:1:7201", "--wireless-stbs", "0.5"]
    assert main(argv) == 0
    serials = set(Device.objects.values_list("serial_number", flat=True))
    assert serials == {"00007001", "00007002", "00007101", "00007201"}
    gateway = Device.objects.get(serial_number="00007201")
    assert gateway.product_class == "A-GW"
    assert Compliance.objects.get(device=gateway).state == ComplianceState.IN_SYNC
    assert tree_of(gateway)["Device.X_IPTV_IGMPProxy.Version"][0] == "3"

    # The ACS reads the gateway's hosts at its next contact (here: the next start of the fleet).
    refresh_parameters(gateway, actor=None, path="Device.Hosts.")
    stbs = [("00D09E", "00007001"), ("00D09E", "00007002"), ("0050C2", "00007101")]
    for oui, serial in stbs:  # the registry's MACs, as an operator's import gives them
        device = Device.objects.get(serial_number=serial)
        device.mac_address = host_mac(oui, serial).lower()
        device.save()
    assert main([*argv[:3], "--duration", "3", *argv[5:]]) == 0
    net = home_network(gateway, tree_of(gateway), tenants["noc"])
    rows = [(h["mac"].upper(), h["interface"], h["device"].serial_number) for h in net["hosts"]]
    assert rows == [
        (host_mac("00D09E", "00007001"), "WLAN", "00007001"),
        (host_mac("00D09E", "00007002"), "LAN", "00007002"),
        (host_mac("0050C2", "00007101"), "WLAN", "00007101"),
    ]
