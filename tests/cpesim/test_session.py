"""Whole CWMP sessions of simulated boxes against a real ACS peer (`acs.cwmp.session` behind a real
HTTP server), connection requests over real HTTP with digest, firmware from a real file server."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest
import requests
from requests.auth import HTTPDigestAuth

from acs.cwmp import messages as m
from cpesim.download import make_image
from cpesim.fleet import Fleet, FleetConfig, Group
from cpesim.profiles import VOLUME, DeviceSpec
from tests.cpesim.peer import AcsPeer, FileServer, free_port, until

SPEC = DeviceSpec("00D09E", "NL-STB4000", manufacturer="Nordlicht")
FIRMWARE = "1 Firmware Upgrade Image"


def config(peer: AcsPeer, **overrides) -> FleetConfig:
    values = dict(
        acs_url=peer.url,
        username="{oui}-{serial}",
        password="pw-{serial}",
        reboot_seconds=0.05,
        time_scale=0.01,
        http_timeout=5,
        connect_timeout=2,
        session_concurrency=8,
    )
    values.update(overrides)
    return FleetConfig(**values)


def credentials(count: int, start: int = 1) -> dict[str, str]:
    return {f"00D09E-{n:08d}": f"pw-{n:08d}" for n in range(start, start + count)}


def run(fleet: Fleet, scenario, *, listen=None) -> None:
    async def main():
        await fleet.start(listen=listen)
        try:
            await scenario()
        finally:
            await fleet.stop()

    asyncio.run(main())


def codes(inform: m.Inform) -> list[str]:
    return [e.event_code for e in inform.events]


def params(inform: m.Inform) -> dict[str, str]:
    return {p.name: p.value.text for p in inform.parameters}


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_first_contact_is_bootstrap_boot_with_digest_and_cookie(algorithm):
    with AcsPeer(credentials=credentials(3), algorithm=algorithm) as peer:
        fleet = Fleet(config(peer), [Group(SPEC, 3, 1)])

        async def scenario():
            await until(lambda: all(peer.records[f"{n:08d}"].sessions_closed for n in (1, 2, 3)))

        run(fleet, scenario)
    inform = peer.records["00000002"].informs[0]
    assert codes(inform) == ["0 BOOTSTRAP", "1 BOOT"]
    assert inform.device_id == m.DeviceId("Nordlicht", "00D09E", "NL-STB4000", "00000002")
    assert params(inform)["Device.DeviceInfo.SoftwareVersion"] == "1.0.0"
    assert params(inform)["Device.ManagementServer.ConnectionRequestURL"].endswith(
        "/00D09E-00000002"
    )
    assert peer.cookieless_posts == 0  # every POST after the Inform carried the session cookie
    assert fleet.stats.counts["sessions_ok"] == 3


def test_wrong_password_fails_and_retries_with_retry_count():
    with AcsPeer(credentials={"00D09E-00000001": "other"}) as peer:
        fleet = Fleet(config(peer), [Group(SPEC, 1, 1)])

        async def scenario():
            await until(lambda: fleet.stats.counts["sessions_failed"] >= 2)

        run(fleet, scenario)
    assert peer.records["00000001"].informs == []
    box = fleet.boxes[0]
    assert box.retries >= 2
    assert [e.event_code for e in box.events] == ["0 BOOTSTRAP", "1 BOOT"]  # kept for the retry


def test_basic_auth():
    with AcsPeer(auth="basic", credentials=credentials(1)) as peer:
        fleet = Fleet(config(peer), [Group(SPEC, 1, 1)])
        run(fleet, lambda: until(lambda: peer.records["00000001"].sessions_closed))
    assert codes(peer.records["00000001"].informs[0]) == ["0 BOOTSTRAP", "1 BOOT"]


def test_acs_requests_are_answered_in_one_session():
    with AcsPeer(credentials=credentials(1)) as peer:
        serial = "00000001"
        hdmi = "Device.Services.STBService.1.Components.HDMI.1."
        peer.enqueue(serial, "gpn", m.GetParameterNames("Device.Services.StorageService.1.", True))
        peer.enqueue(serial, "gpv", m.GetParameterValues(("Device.DeviceInfo.",)))
        peer.enqueue(
            serial,
            "spv-bad",
            m.SetParameterValues(
                (m.ParameterValue(hdmi + "ResolutionValue", m.TypedValue("1x1p/1Hz")),), "k"
            ),
        )
        peer.enqueue(serial, "add", m.AddObject(VOLUME + "Folder.", "k2"))
        peer.enqueue(serial, "del", m.DeleteObject(VOLUME + "Folder.4.", "k3"))
        peer.enqueue(serial, "rpc", m.GetRPCMethods())
        fleet = Fleet(config(peer), [Group(SPEC, 1, 1)])
        run(fleet, lambda: until(lambda: peer.records[serial].sessions_closed))
    got = peer.records[serial].responses
    assert "Device.Services.StorageService.1.LogicalVolume." in {
        p.name for p in got["gpn"].parameters
    }
    assert {p.name: p.value.text for p in got["gpv"].parameters}[
        "Device.DeviceInfo.SerialNumber"
    ] == serial
    assert isinstance(got["spv-bad"], m.Fault)
    assert got["spv-bad"].set_parameter_values_faults[0].fault_code == 9007
    assert got["add"] == m.AddObjectResponse(4, 0)
    assert got["del"] == m.DeleteObjectResponse(0)
    assert "Download" in got["rpc"].methods
    assert peer.records[serial].abandoned == []


def test_connection_request_with_digest_starts_a_session():
    port = free_port()
    with AcsPeer(credentials=credentials(1)) as peer:
        fleet = Fleet(
            config(peer, connection_request_base=f"http://127.0.0.1:{port}/cr"),
            [Group(SPEC, 1, 1)],
        )
        url = f"http://127.0.0.1:{port}/cr/00D09E-00000001"

        async def scenario():
            record = peer.records["00000001"]
            await until(lambda: record.sessions_closed)
            wrong = await asyncio.to_thread(
                requests.get, url, auth=HTTPDigestAuth("00000001", "nope"), timeout=5
            )
            assert wrong.status_code == 401
            unknown = await asyncio.to_thread(requests.get, url + "X", timeout=5)
            assert unknown.status_code == 404
            ok = await asyncio.to_thread(
                requests.get, url, auth=HTTPDigestAuth("00000001", "cr-00000001"), timeout=5
            )
            assert ok.status_code == 200
            await until(lambda: len(record.informs) == 2)
            assert codes(record.informs[1]) == ["6 CONNECTION REQUEST"]

        run(fleet, scenario, listen=("127.0.0.1", port))


def test_reboot_factory_reset_and_schedule_inform():
    with AcsPeer(credentials=credentials(1)) as peer:
        serial = "00000001"
        record = peer.records[serial]
        peer.enqueue(serial, "reboot", m.Reboot("rk"))
        fleet = Fleet(config(peer), [Group(SPEC, 1, 1)])

        async def scenario():
            await until(lambda: len(record.informs) >= 2)
            assert codes(record.informs[1]) == ["1 BOOT", "M Reboot"]
            assert record.informs[1].events[1].command_key == "rk"
            peer.enqueue(serial, "sched", m.ScheduleInform(1, "sk"))
            fleet.want_session(fleet.boxes[0])
            await until(lambda: any("3 SCHEDULED" in codes(i) for i in record.informs), 5)
            scheduled = next(i for i in record.informs if "3 SCHEDULED" in codes(i))
            assert m.EventStruct("M ScheduleInform", "sk") in scheduled.events
            peer.enqueue(serial, "reset", m.FactoryReset())
            fleet.want_session(fleet.boxes[0])
            await until(lambda: codes(record.informs[-1]) == ["0 BOOTSTRAP", "1 BOOT"], 5)

        run(fleet, scenario)


def _download_scenario(peer, fleet, serial, url, *, file_size=0):
    record = peer.records[serial]

    async def scenario():
        await until(lambda: record.sessions_closed)
        peer.enqueue(serial, "dl", m.Download("cmd-1", FIRMWARE, url, file_size=file_size))
        fleet.want_session(fleet.boxes[0])
        await until(lambda: any(isinstance(r, m.TransferComplete) for r in record.cpe_requests))

    return scenario


def _transfer(record) -> m.TransferComplete:
    return next(r for r in record.cpe_requests if isinstance(r, m.TransferComplete))


def test_download_verified_installed_and_reported():
    image = make_image("4.2.1", oui="00D09E", product_class="NL-STB4000", payload=b"\x00" * 300_000)
    sha = hashlib.sha256(image).hexdigest()
    with AcsPeer(credentials=credentials(1)) as peer, FileServer({"/fw.img": image}) as files:
        fleet = Fleet(config(peer), [Group(SPEC, 1, 1)])
        url = files.url(f"/fw.img?sha256={sha}")
        run(fleet, _download_scenario(peer, fleet, "00000001", url, file_size=len(image)))
    record = peer.records["00000001"]
    assert record.responses["dl"] == m.DownloadResponse(1)
    transfer = _transfer(record)
    assert transfer.command_key == "cmd-1" and transfer.fault == m.TransferFault(0, "")
    after = record.informs[-1]
    assert codes(after) == ["1 BOOT", "7 TRANSFER COMPLETE", "M Download"]
    assert params(after)["Device.DeviceInfo.SoftwareVersion"] == "4.2.1"
    assert files.requests == [f"/fw.img?sha256={sha}"]


@pytest.mark.parametrize(
    ("path", "fault"),
    [
        ("/fw.img?sha256=" + "0" * 64, 9018),  # corrupted: digest mismatch
        ("/missing.img", 9016),  # not found
        ("/truncated.img", 9017),  # cut off
        ("/broken.img", 9010),  # server error
        ("/private.img?version=9.9", 9012),  # credentials refused
        ("/plain.img", 9018),  # no version to be had
        ("/other-class.img", 9018),  # image of another product class
    ],
)
def test_download_failures_are_reported_with_their_fault(path, fault):
    image = make_image("5.0", oui="00D09E", product_class="NL-STB4000")
    files_map = {
        "/fw.img": image,
        "/truncated.img": image,
        "/private.img": image,
        "/plain.img": b"just bytes",
        "/other-class.img": make_image("5.0", product_class="MX-300"),
    }
    with AcsPeer(credentials=credentials(1)) as peer, FileServer(files_map) as files:
        fleet = Fleet(config(peer), [Group(SPEC, 1, 1)])
        run(fleet, _download_scenario(peer, fleet, "00000001", files.url(path)))
    record = peer.records["00000001"]
    transfer = _transfer(record)
    assert transfer.fault.fault_code == fault, transfer.fault
    assert codes(record.informs[-1]) == ["7 TRANSFER COMPLETE", "M Download"]
    assert params(record.informs[-1])["Device.DeviceInfo.SoftwareVersion"] == "1.0.0"


def test_download_with_credentials_and_version_in_the_url():
    with (
        AcsPeer(credentials=credentials(1)) as peer,
        FileServer({"/private.img": b"raw image"}) as files,
    ):
        fleet = Fleet(config(peer), [Group(SPEC, 1, 1)])
        record = peer.records["00000001"]

        async def scenario():
            await until(lambda: record.sessions_closed)
            download = m.Download(
                "c", FIRMWARE, files.url("/private.img?version=2.0"), username="fus", password="pw"
            )
            peer.enqueue("00000001", "dl", download)
            fleet.want_session(fleet.boxes[0])
            await until(lambda: any(isinstance(r, m.TransferComplete) for r in record.cpe_requests))

        run(fleet, scenario)
    assert _transfer(record).fault.fault_code == 0
    assert params(record.informs[-1])["Device.DeviceInfo.SoftwareVersion"] == "2.0"


def test_unreachable_file_server_and_injected_failures():
    with AcsPeer(credentials=credentials(2)) as peer:
        fleet = Fleet(config(peer), [Group(SPEC, 1, 1)])
        url = f"http://127.0.0.1:{free_port()}/fw.img"
        run(fleet, _download_scenario(peer, fleet, "00000001", url))
        assert _transfer(peer.records["00000001"]).fault.fault_code == 9015

        fleet = Fleet(
            config(peer, fail_downloads=1.0, download_fault_codes=(9017,)), [Group(SPEC, 1, 2)]
        )
        run(fleet, _download_scenario(peer, fleet, "00000002", "http://fus.invalid/x.img"))
        assert _transfer(peer.records["00000002"]).fault == m.TransferFault(
            9017, "simulated failure (--fail-downloads)"
        )


def test_hold_requests_keeps_the_transfer_complete_for_later():
    with AcsPeer(credentials=credentials(1), hold_requests=True) as peer:
        fleet = Fleet(config(peer, fail_downloads=1.0), [Group(SPEC, 1, 1)])
        record = peer.records["00000001"]

        async def scenario():
            await until(lambda: record.sessions_closed)
            peer.enqueue("00000001", "dl", m.Download("c", FIRMWARE, "http://x.invalid/f"))
            fleet.want_session(fleet.boxes[0])
            await until(lambda: sum("7 TRANSFER COMPLETE" in codes(i) for i in record.informs) >= 2)
            assert fleet.boxes[0].transfer is not None  # never sent while requests are held
            peer.hold_requests = False
            await until(lambda: any(isinstance(r, m.TransferComplete) for r in record.cpe_requests))
            await until(lambda: fleet.boxes[0].transfer is None)

        run(fleet, scenario)
    assert not any(isinstance(r, m.TransferComplete) for r in record.cpe_requests[:-1])


def test_dropped_and_stalled_sessions_are_retried():
    with AcsPeer(credentials=credentials(2)) as peer:
        fleet = Fleet(config(peer, drop_sessions=1.0), [Group(SPEC, 1, 1)])

        async def dropped():
            await until(lambda: fleet.stats.counts["dropped_on_purpose"] >= 2)

        run(fleet, dropped)
        informs = peer.records["00000001"].informs
        assert [i.retry_count for i in informs[:2]] == [0, 1]
        assert codes(informs[1]) == ["0 BOOTSTRAP", "1 BOOT"] or codes(informs[1]) == ["2 PERIODIC"]

        peer.enqueue("00000002", "gpv", m.GetParameterValues(("Device.DeviceInfo.UpTime",)))
        fleet = Fleet(config(peer, stall_sessions=1.0, stall_seconds=0.1), [Group(SPEC, 1, 2)])
        run(fleet, lambda: until(lambda: fleet.stats.counts["stalled_on_purpose"] >= 1))
        assert peer.records["00000002"].responses == {}  # never answered


def test_acs_busy_503_is_respected():
    async def scenario():
        hits = []

        async def busy(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            hits.append(time.monotonic())
            writer.write(b"HTTP/1.1 503 Busy\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(busy, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        cfg = FleetConfig(acs_url=f"http://127.0.0.1:{port}/cwmp", time_scale=0.01)
        fleet = Fleet(cfg, [Group(SPEC, 1, 1)])
        await fleet.start()
        try:
            await until(lambda: len(hits) >= 2, 5)
        finally:
            await fleet.stop()
            server.close()
        assert hits[1] - hits[0] >= 0.9  # Retry-After, not the 50 ms scaled back-off

    asyncio.run(scenario())


def test_stop_ends_a_task_that_lost_its_first_cancellation():
    """On Python 3.11 `asyncio.wait_for` returns a result that arrives together with a
    cancellation, and the cancelled task goes on (a session worker back at its queue, say). The
    fleet's stop() cancels again whatever still runs, so it ends instead of waiting for ever."""
    fleet = Fleet(FleetConfig(acs_url="http://127.0.0.1:9/cwmp"), [Group(SPEC, 1, 1)])
    swallowed = []

    async def deaf_to_one_cancellation():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.append(True)  # lost, as wait_for loses it
        await asyncio.Event().wait()  # and back to waiting

    async def main():
        await fleet.start()
        fleet._spawn(deaf_to_one_cancellation())
        await asyncio.sleep(0.05)
        async with asyncio.timeout(15):
            await fleet.stop()

    asyncio.run(main())
    assert swallowed == [True]
    assert not fleet._tasks
