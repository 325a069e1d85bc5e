"""``python -m cpesim``: run a fleet of simulated set-top boxes against an ACS.

    python -m cpesim --acs http://127.0.0.1:8000/cwmp --count 1000 --serial-start 100000 \\
        --oui 00D09E --product-class NL-STB4000 --fail-downloads 0.1

Several device classes in one process: repeat ``--group OUI:PRODUCT_CLASS:COUNT:SERIAL_START``
(optionally ``:SOFTWARE_VERSION:HARDWARE_VERSION``) instead of ``--oui/--product-class/--count``.
Credentials are ``str.format`` templates over ``{serial}``, ``{oui}`` and ``{product_class}``.

A home network (IEC 62608-1): ``--gateway OUI:CLASS:COUNT:SERIAL_START[:SW[:HW]]`` adds home
gateways with the fleet's set-top boxes (and ``--sensor`` devices) behind them as their hosts.

Unmanaged boxes (no ACS): ``--mode unmanaged --fus URL [--poll-interval S]`` poll the QRC
(`cpesim.unmanaged`); ``--mode multicast --announce GROUP:PORT [--interface ADDR]`` listen to SAP or
DVBSTP announcements and fetch from the carousels (`cpesim.receiver`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys

from acs.cwmp.codec import CWMP_NAMESPACES

from .fleet import Fleet, FleetConfig, Group
from .profiles import DeviceSpec

NAMESPACES = {ns.rsplit("-", 2)[-2] + "." + ns.rsplit("-", 1)[-1]: ns for ns in CWMP_NAMESPACES}


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction between 0 and 1")
    return value


def _host_port(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return text


def _codes(text: str) -> tuple[int, ...]:
    codes = tuple(int(c) for c in text.split(","))
    for code in codes:
        if not 9000 <= code <= 9899:
            raise argparse.ArgumentTypeError(f"{code} is not a CPE fault code (9000-9899)")
    return codes


def _oui(text: str) -> str:
    text = text.upper()
    if len(text) != 6 or any(c not in "0123456789ABCDEF" for c in text):
        raise argparse.ArgumentTypeError(f"OUI {text!r} must be six hex digits")
    return text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cpesim", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--mode",
        choices=("managed", "unmanaged", "multicast"),
        default="managed",
        help="managed: TR-069 to --acs; unmanaged: poll the QRC at --fus; "
        "multicast: listen to --announce",
    )
    p.add_argument("--acs", help="the ACS URL, e.g. http://127.0.0.1:8000/cwmp (managed mode)")
    p.add_argument(
        "--fus", help="the FUS origin or QRC URL, e.g. http://127.0.0.1:8000 (unmanaged mode)"
    )
    p.add_argument("--poll-interval", type=float, default=3600.0, help="seconds between QRC polls")
    p.add_argument(
        "--report-url", default=None, help="where results are reported (default <fus>/fus/report)"
    )
    p.add_argument(
        "--announce",
        default=None,
        metavar="GROUP:PORT",
        help="the SAP or DVBSTP announcement group (multicast mode; IPv6 as [GROUP]:PORT)",
    )
    p.add_argument(
        "--interface",
        default="127.0.0.1",
        help="address (IPv4) or interface name (IPv6) on which to join the groups",
    )
    p.add_argument(
        "--trusted-key",
        action="append",
        default=[],
        help="PEM public key SAP announcements must be signed with (repeatable)",
    )
    p.add_argument(
        "--accept-manual", action="store_true", help="also install UpdateFlag=manual updates"
    )
    p.add_argument("--count", type=int, default=1, help="boxes (with --oui/--product-class)")
    p.add_argument("--serial-start", type=int, default=1)
    p.add_argument("--serial-format", default="{:08d}", help="str.format of the serial number")
    p.add_argument("--oui", type=_oui, default="00D09E")
    p.add_argument("--product-class", default="NL-STB4000")
    p.add_argument("--manufacturer", default="cpesim")
    p.add_argument("--hardware-version", default="1.0")
    p.add_argument("--software-version", default="1.0.0", help="the version the boxes boot with")
    p.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="OUI:CLASS:COUNT:SERIAL_START[:SW[:HW]]",
        help="a device class of the fleet (repeatable; replaces --oui/--product-class/--count)",
    )
    p.add_argument(
        "--gateway",
        action="append",
        default=[],
        metavar="OUI:CLASS:COUNT:SERIAL_START[:SW[:HW]]",
        help="home gateways (repeatable): the fleet's set-top boxes and sensors are shared out "
        "among them, in order, as their LAN/WLAN hosts (Device.Hosts.Host.{i})",
    )
    p.add_argument(
        "--sensor",
        action="append",
        default=[],
        metavar="OUI:CLASS:COUNT:SERIAL_START[:SW[:HW]]",
        help="sensor-like end devices (repeatable): TR-181 temperature sensors and a cloud "
        "telemetry endpoint; WLAN hosts of the gateways",
    )
    p.add_argument(
        "--wireless-stbs",
        type=_fraction,
        default=0.25,
        help="with --gateway: the fraction of each gateway's set-top boxes on its WLAN",
    )
    p.add_argument("--cwmp-version", choices=sorted(NAMESPACES), default="1.2")
    p.add_argument("--username", default="", help="ACS username template, e.g. {oui}-{serial}")
    p.add_argument("--password", default="", help="ACS password template")
    p.add_argument("--cr-username", default="{serial}", help="connection request username template")
    p.add_argument(
        "--cr-password", default="cr-{serial}", help="connection request password template"
    )
    p.add_argument("--periodic-interval", type=int, default=3600, help="seconds")
    p.add_argument(
        "--listen", default="127.0.0.1:7548", help="connection request listener HOST:PORT"
    )
    p.add_argument(
        "--connection-request-base",
        default=None,
        help="URL prefix the boxes announce (default http://<listen>/cr)",
    )
    p.add_argument("--no-listener", action="store_true", help="do not serve connection requests")
    p.add_argument(
        "--udp-listen",
        default=None,
        type=_host_port,
        metavar="HOST:PORT",
        help="also take UDP connection requests (TR-111) there; every box announces it as its "
        "UDPConnectionRequestAddress, so the ACS uses UDP",
    )
    p.add_argument("--concurrency", type=int, default=100, help="sessions in flight at once")
    p.add_argument("--download-concurrency", type=int, default=20)
    p.add_argument("--ramp", type=float, default=None, help="seconds over which the boxes power on")
    p.add_argument(
        "--consent-fraction",
        type=_fraction,
        default=0.5,
        help="boxes whose user allowed operator management of CDS pull storage",
    )
    p.add_argument("--fail-downloads", type=_fraction, default=0.0)
    p.add_argument(
        "--download-fault-codes",
        type=_codes,
        default=(9010,),
        help="faults of the injected download failures, e.g. 9010,9017",
    )
    p.add_argument(
        "--drop-sessions",
        type=_fraction,
        default=0.0,
        help="sessions whose TCP connection the box drops after the InformResponse",
    )
    p.add_argument(
        "--stall-sessions",
        type=_fraction,
        default=0.0,
        help="sessions where the box stops answering (time-out) after an ACS request",
    )
    p.add_argument("--stall-seconds", type=float, default=60.0)
    p.add_argument("--ignore-connection-requests", type=_fraction, default=0.0)
    p.add_argument("--reboot-seconds", type=float, default=2.0)
    p.add_argument("--http-timeout", type=float, default=30.0)
    p.add_argument("--insecure", action="store_true", help="do not verify the ACS certificate")
    p.add_argument("--ca-file", default=None, help="CA bundle for HTTPS")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stats-interval", type=float, default=60.0, help="seconds between log lines")
    p.add_argument(
        "--state",
        default=None,
        help="managed mode: a JSON file keeping each box's flash (firmware version, credentials "
        "the ACS gave it) across restarts: read at start if present, written at every stats "
        "line and at exit",
    )
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("-v", "--verbose", action="count", default=0)
    return p


def _group_fields(text: str, option: str) -> tuple[str, str, int, int, str | None, str | None]:
    """``OUI:CLASS:COUNT:SERIAL_START[:SW[:HW]]`` -> its fields; a SystemExit names the option."""
    parts = text.split(":")
    if not 4 <= len(parts) <= 6:
        raise SystemExit(f"{option} {text!r}: expected OUI:CLASS:COUNT:SERIAL_START[:SW[:HW]]")
    try:
        oui, product_class, count, start = _oui(parts[0]), parts[1], int(parts[2]), int(parts[3])
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise SystemExit(f"{option} {text!r}: {exc}") from None
    if not product_class or count < 0 or start < 0:
        raise SystemExit(f"{option} {text!r}: a product class, a count and a start of 0 or more")
    software = parts[4] if len(parts) > 4 and parts[4] else None
    hardware = parts[5] if len(parts) > 5 and parts[5] else None
    return oui, product_class, count, start, software, hardware


def groups_from(args: argparse.Namespace) -> list[Group]:
    """The fleet's groups: set-top boxes (--group, else --oui/--product-class/--count), sensors
    (--sensor), and one group per gateway (--gateway) with its share of the others as hosts."""
    groups = []
    if not args.group:
        spec = DeviceSpec(
            oui=args.oui,
            product_class=args.product_class,
            manufacturer=args.manufacturer,
            hardware_version=args.hardware_version,
        )
        groups.append(Group(spec, args.count, args.serial_start, args.serial_format))
    for text in args.group:
        oui, product_class, count, start, software, hardware = _group_fields(text, "--group")
        spec = DeviceSpec(
            oui=oui,
            product_class=product_class,
            manufacturer=args.manufacturer,
            hardware_version=hardware or args.hardware_version,
        )
        groups.append(Group(spec, count, start, args.serial_format, software))
    sensors = []
    for text in getattr(args, "sensor", []):
        oui, product_class, count, start, software, hardware = _group_fields(text, "--sensor")
        spec = DeviceSpec(
            oui=oui,
            product_class=product_class,
            manufacturer=args.manufacturer,
            hardware_version=hardware or args.hardware_version,
            kind="sensor",
        )
        sensors.append(Group(spec, count, start, args.serial_format, software))
    return groups + sensors + gateway_groups(args, groups, sensors)


def _identities(groups: list[Group]) -> list[tuple[str, str]]:
    return [
        (g.spec.oui, g.serial_format.format(g.serial_start + i))
        for g in groups
        for i in range(g.count)
    ]


def gateway_groups(
    args: argparse.Namespace, stb_groups: list[Group], sensor_groups: list[Group]
) -> list[Group]:
    """One group per home gateway of --gateway. The set-top boxes and the sensors of the fleet
    are shared out in order, in contiguous slices (as even as possible), as each gateway's hosts:
    the first ``--wireless-stbs`` of its boxes on the WLAN, sensors always on the WLAN."""
    from .gateway import MAX_HOSTS, home_hosts

    gateways = []
    for text in getattr(args, "gateway", []):
        oui, product_class, count, start, software, hardware = _group_fields(text, "--gateway")
        for i in range(count):
            gateways.append((oui, product_class, start + i, software, hardware))
    if not gateways:
        return []
    stbs, sensors = _identities(stb_groups), _identities(sensor_groups)

    def share(items: list, n: int) -> list:
        size, extra = divmod(len(items), len(gateways))
        begin = n * size + min(n, extra)
        return items[begin : begin + size + (1 if n < extra else 0)]

    out = []
    for n, (oui, product_class, number, software, hardware) in enumerate(gateways):
        mine, my_sensors = share(stbs, n), share(sensors, n)
        try:
            hosts = home_hosts(
                mine, my_sensors, wireless_stbs=round(len(mine) * args.wireless_stbs)
            )
        except ValueError as exc:
            raise SystemExit(
                f"--gateway: {exc}; use more gateways (at most {MAX_HOSTS} hosts each)"
            ) from None
        spec = DeviceSpec(
            oui=oui,
            product_class=product_class,
            manufacturer=args.manufacturer,
            hardware_version=hardware or args.hardware_version,
            kind="gateway",
            hosts=hosts,
        )
        out.append(Group(spec, 1, number, args.serial_format, software))
    return out


def config_from(args: argparse.Namespace) -> FleetConfig:
    context = None
    if args.insecure or args.ca_file:
        context = ssl.create_default_context(cafile=args.ca_file)
        if args.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    base = args.connection_request_base or f"http://{args.listen}/cr"
    return FleetConfig(
        acs_url=args.acs,
        connection_request_base=base.rstrip("/"),
        namespace=NAMESPACES[args.cwmp_version],
        software_version=args.software_version,
        username=args.username,
        password=args.password,
        cr_username=args.cr_username,
        cr_password=args.cr_password,
        periodic_interval=args.periodic_interval,
        consent_fraction=args.consent_fraction,
        fail_downloads=args.fail_downloads,
        download_fault_codes=args.download_fault_codes,
        drop_sessions=args.drop_sessions,
        stall_sessions=args.stall_sessions,
        stall_seconds=args.stall_seconds,
        ignore_connection_requests=args.ignore_connection_requests,
        udp_connection_request_address=args.udp_listen or "",
        reboot_seconds=args.reboot_seconds,
        http_timeout=args.http_timeout,
        session_concurrency=args.concurrency,
        download_concurrency=args.download_concurrency,
        ssl_context=context,
        seed=args.seed,
    )


def unmanaged_boxes(args: argparse.Namespace):
    """The boxes of --group/--count as unmanaged boxes (MAC: the OUI + 3 bytes of a hash of the
    serial, as managed boxes have)."""
    import hashlib

    from .unmanaged import UnmanagedBox

    boxes = []
    for group in groups_from(args):
        for i in range(group.count):
            serial = group.serial_format.format(group.serial_start + i)
            digest = hashlib.sha256(f"{group.spec.oui}/{serial}".encode()).digest()
            mac = ":".join(f"{b:02x}" for b in bytes.fromhex(group.spec.oui) + digest[:3])
            boxes.append(
                UnmanagedBox(
                    group.spec.oui,
                    group.spec.product_class,
                    serial,
                    group.software_version or args.software_version,
                    group.spec.hardware_version,
                    mac,
                )
            )
    return boxes


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not (args.insecure or args.ca_file):
        return None
    context = ssl.create_default_context(cafile=args.ca_file)
    if args.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _group_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise SystemExit(f"--announce {text!r}: expected GROUP:PORT")
    return host.strip("[]"), int(port)


async def _until_stopped(args: argparse.Namespace, stats) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    started = loop.time()
    while not stop.is_set():
        timeout = args.stats_interval
        if args.duration is not None:
            timeout = min(timeout, max(args.duration - (loop.time() - started), 0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout)
        logging.getLogger("cpesim").info("stats: %s", dict(sorted(stats.items())))
        if args.duration is not None and loop.time() - started >= args.duration:
            break


async def run_unmanaged(args: argparse.Namespace) -> None:
    from .unmanaged import UnmanagedFleet

    fleet = UnmanagedFleet(
        unmanaged_boxes(args),
        args.fus,
        poll_interval=args.poll_interval,
        report_url=args.report_url,
        concurrency=args.concurrency,
        accept_manual=args.accept_manual,
        ssl_context=_ssl_context(args),
        seed=args.seed,
    )
    ramp = args.ramp if args.ramp is not None else min(args.poll_interval, len(fleet.boxes) / 200)
    fleet.start(ramp_seconds=ramp)
    logging.getLogger("cpesim").info(
        "%d unmanaged boxes polling %s every %g s",
        len(fleet.boxes),
        fleet.qrc_url,
        args.poll_interval,
    )
    await _until_stopped(args, fleet.stats)
    await fleet.stop()


async def run_multicast(args: argparse.Namespace) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from .receiver import MulticastReceiver

    keys = []
    for path in args.trusted_key:
        try:
            with open(path, "rb") as f:
                keys.append(load_pem_public_key(f.read()))
        except (OSError, ValueError) as exc:
            raise SystemExit(f"--trusted-key {path}: {exc}") from None
    report_url = args.report_url
    if report_url is None and args.fus:
        from .unmanaged import default_report_url

        report_url = default_report_url(args.fus)
    receiver = MulticastReceiver(
        unmanaged_boxes(args),
        _group_port(args.announce),
        interface=args.interface,
        report_url=report_url,
        qrc_url=args.fus,
        trusted_keys=keys or None,
    )
    task = asyncio.create_task(receiver.run())
    logging.getLogger("cpesim").info(
        "%d boxes listening to %s on %s", len(receiver.boxes), args.announce, args.interface
    )
    await _until_stopped(args, receiver.stats)
    receiver.stop()
    await task


async def run(args: argparse.Namespace) -> None:
    if args.mode == "unmanaged":
        await run_unmanaged(args)
        return
    if args.mode == "multicast":
        await run_multicast(args)
        return
    config = config_from(args)
    groups = groups_from(args)
    try:
        fleet = Fleet(config, groups)
    except ValueError as exc:  # two boxes with one identity (e.g. a gateway's serial reused)
        raise SystemExit(f"cpesim: {exc}") from None
    if args.state and os.path.exists(args.state):
        try:
            restored = fleet.load_state(args.state)
        except ValueError as exc:
            raise SystemExit(f"cpesim: --state {exc}") from None
        logging.getLogger("cpesim").info("%d boxes restored from %s", restored, args.state)
    listen = None
    if not args.no_listener:
        host, _, port = args.listen.rpartition(":")
        listen = (host or "127.0.0.1", int(port))
    udp = None
    if args.udp_listen:
        host, _, port = args.udp_listen.rpartition(":")
        udp = (host.strip("[]") or "127.0.0.1", int(port))
    ramp = args.ramp if args.ramp is not None else len(fleet.boxes) / 200
    await fleet.start(listen=listen, ramp_seconds=ramp, udp_listen=udp)
    logging.getLogger("cpesim").info(
        "%d boxes against %s; connection requests at %s/<OUI>-<serial>",
        len(fleet.boxes),
        config.acs_url,
        config.connection_request_base,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    started = loop.time()
    while not stop.is_set():
        timeout = args.stats_interval
        if args.duration is not None:
            timeout = min(timeout, max(args.duration - (loop.time() - started), 0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout)
        logging.getLogger("cpesim").info("stats: %s", dict(sorted(fleet.stats.counts.items())))
        if args.state:
            fleet.save_state(args.state)
        if args.duration is not None and loop.time() - started >= args.duration:
            break
    await fleet.stop()
    if args.state:
        fleet.save_state(args.state)


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    required = {"managed": "--acs", "unmanaged": "--fus", "multicast": "--announce"}[args.mode]
    if not getattr(args, required.lstrip("-")):
        p.error(f"--mode {args.mode} needs {required}")
    if args.mode != "managed" and (args.gateway or args.sensor):
        p.error("--gateway and --sensor need --mode managed (they are CWMP devices)")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO,
        format="%(asctime)s cpesim %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0
