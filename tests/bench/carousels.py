"""FLUTE carousel sending on loopback multicast: the highest rate of one carousel, pacing accuracy
at 10 and 100 Mbit/s over 10 s, and CPU seconds per Mbit/s.

The sender is the carousel loop's own inner loop (`fus.carousels.loop.run_loop`, one cycle):
`fus.multicast.flute.Session.cycle()` over a firmware file on disk, `fus.carousels.sender.Pacer`
and `open_socket` (TTL 0, IP_MULTICAST_IF 127.0.0.1), `sock.sendto` per datagram, with the loop's
per-packet counters and heartbeat check; the database heartbeat itself is left out (one UPDATE
every 2 s). A receiver in another process joins the group on 127.0.0.1 and counts datagrams and
bytes (UDP payload, as the carousel's rate counts). CPU is `time.process_time()` of the sending
process (the receiver's is not counted). Writes docs/benchmarks/carousels.md.

    python -m tests.bench.carousels [--seconds 10] [--max-seconds 4] [--tries 3] [--size-mib 32]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import struct
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fus.carousels.sender import Pacer, open_socket
from fus.multicast import flute

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "docs" / "benchmarks" / "carousels.md"
GROUP = "239.255.77.1"
UNPACED = 100e9  # "as fast as it goes": a pacer that never waits


def _receiver(group: str, port: int, ready, done, results) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024 * 1024)
    sock.bind((group, port))
    mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton("127.0.0.1"))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    sock.settimeout(0.2)
    buf = bytearray(65536)
    packets = nbytes = 0
    first = last = None
    ready.set()
    while True:
        try:
            n = sock.recv_into(buf)
        except TimeoutError:
            if done.is_set():
                break
            continue
        now = time.perf_counter()
        if first is None:
            first = now
        last = now
        packets += 1
        nbytes += n
    results.put((packets, nbytes, first, last))
    sock.close()


def send(path: Path, size: int, rate_bps: float, seconds: float, port: int) -> dict:
    """Send the FLUTE carousel of `path` at `rate_bps` for `seconds` while a receiver counts."""
    ctx = mp.get_context("spawn")
    ready, done, results = ctx.Event(), ctx.Event(), ctx.Queue()
    rx = ctx.Process(target=_receiver, args=(GROUP, port, ready, done, results), daemon=True)
    rx.start()
    ready.wait(30)
    md5 = flute.md5_of(path.open("rb"))
    session = flute.Session(
        tsi=1,
        files=(flute.SenderFile(1, "firmware/1/fw.bin", size, md5, lambda: path.open("rb")),),
    )
    sock = open_socket(GROUP, ttl=0, interface="127.0.0.1")
    address = (GROUP, port)
    pacer = Pacer(rate_bps)
    packets = nbytes = errors = cycles = 0
    next_beat = 0.0
    cpu0, t0 = time.process_time(), time.perf_counter()
    pacer.due = t0
    end = t0 + seconds
    stop = False
    sendto, wait = sock.sendto, pacer.wait
    while not stop:
        for datagram in session.cycle():
            wait(len(datagram))
            try:
                sendto(datagram, address)
            except OSError:
                errors += 1
                continue
            packets += 1
            nbytes += len(datagram)
            if time.monotonic() >= next_beat:  # the loop's heartbeat check, per packet
                next_beat = time.monotonic() + 0.05
                if time.perf_counter() >= end:
                    stop = True
                    break
        else:
            cycles += 1
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    sock.close()
    time.sleep(0.3)
    done.set()
    rx_packets, rx_bytes, first, last = results.get(timeout=30)
    rx.join(10)
    rx_span = (last - first) if first is not None and last is not None else 0.0
    return {
        "rate": rate_bps,
        "seconds": elapsed,
        "packets": packets,
        "bytes": nbytes,
        "errors": errors,
        "cycles": cycles,
        "sent_bps": nbytes * 8 / elapsed,
        "rx_packets": rx_packets,
        "rx_bytes": rx_bytes,
        "rx_bps": rx_bytes * 8 / rx_span if rx_span else 0.0,
        "loss": 1 - rx_packets / packets if packets else 0.0,
        "cpu": cpu,
        "given_up": pacer.given_up if rate_bps < UNPACED else 0.0,
        "cpu_per_mbps": cpu / elapsed / (nbytes * 8 / elapsed / 1e6) if nbytes else 0.0,
    }


def costs(path: Path, size: int) -> dict:
    """CPU microseconds per datagram of the parts of the send loop, no receiver: building the
    cycle (`Session.cycle()`: file reads, LCT headers), `sendto` alone, and both with the pacer."""
    md5 = flute.md5_of(path.open("rb"))
    session = flute.Session(
        tsi=1,
        files=(flute.SenderFile(1, "firmware/1/fw.bin", size, md5, lambda: path.open("rb")),),
    )
    sock = open_socket(GROUP, ttl=0, interface="127.0.0.1")
    address = (GROUP, _free_port())
    t = time.process_time()
    n = sum(1 for _ in session.cycle())
    build = (time.process_time() - t) / n
    datagram = b"x" * 1428
    t = time.process_time()
    for _ in range(n):
        sock.sendto(datagram, address)
    sendto = (time.process_time() - t) / n
    pacer = Pacer(UNPACED)
    t = time.process_time()
    for d in session.cycle():
        pacer.wait(len(d))
        sock.sendto(d, address)
    whole = (time.process_time() - t) / n
    sock.close()
    return {
        "datagrams": n,
        "build_us": build * 1e6,
        "sendto_us": sendto * 1e6,
        "whole_us": whole * 1e6,
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def report(
    rows: list[tuple[str, dict]], cost: dict, args, load: tuple[float, float, float], command: str
):
    def err(r):
        return (r["sent_bps"] - r["rate"]) / r["rate"] * 100

    lines = [
        "# FLUTE carousel on loopback multicast",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, shared machine; "
        f"load average before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min).",
        f"Command: `{command}`",
        "",
        f"One FLUTE carousel (RFC 3926, 1400-byte symbols, datagrams of 1428 bytes) of one "
        f"{args.size_mib} MiB file read from disk, TTL 0 on 127.0.0.1; a receiver process joined "
        "on 127.0.0.1 counts what arrives. Rates are UDP payload bits per second, as the carousel's "
        "configured rate counts them.",
        "",
        "| run | target | sent (sender clock) | pacing error | stalls given up "
        "| received (receiver clock) | loss | packets sent | CPU s | CPU s per s per Mbit/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, r in rows:
        target = "unpaced" if r["rate"] >= UNPACED else f"{r['rate'] / 1e6:.0f} Mbit/s"
        pacing = "—" if r["rate"] >= UNPACED else f"{err(r):+.3f}%"
        given_up = "—" if r["rate"] >= UNPACED else f"{r['given_up'] * 1000:.0f} ms"
        lines.append(
            f"| {label} | {target} | {r['sent_bps'] / 1e6:.1f} Mbit/s over {r['seconds']:.1f} s "
            f"| {pacing} | {given_up} "
            f"| {r['rx_bps'] / 1e6:.1f} Mbit/s | {r['loss'] * 100:.2f}% "
            f"| {r['packets']:,} | {r['cpu']:.2f} | {r['cpu_per_mbps'] * 1000:.2f} m |"
        )
    top = rows[0][1]
    paced = [r for _, r in rows if r["rate"] < UNPACED]
    worst = max(abs(err(r)) for r in paced)
    per_core = top["sent_bps"] / (top["cpu"] / top["seconds"]) if top["cpu"] else 0.0
    lines[4:4] = [
        "",
        "Goals (issue #6): highest rate ≥ 1 Gbit/s — "
        + ("met" if top["sent_bps"] >= 1e9 else "**missed**")
        + f" ({top['sent_bps'] / 1e9:.2f}x the goal, sent; {top['rx_bps'] / 1e9:.2f}x received); "
        "pacing within ±1% at 10 and 100 Mbit/s over 10 s — "
        + ("met" if worst <= 1 else "**missed**")
        + f" (worst {worst:.3f}%). Load-independent: the unpaced sender moved "
        f"{per_core / 1e9:.2f} Gbit/s per CPU-second it got ({top['cpu'] / top['seconds'] * 100:.0f}% "
        "of a core).",
    ]
    core_bps = 1428 * 8 / (cost["whole_us"] / 1e6)
    lines += [
        "",
        "CPU per datagram (one cycle of the same file, no receiver; `costs()`): "
        f"building the cycle {cost['build_us']:.2f} µs, `sendto` {cost['sendto_us']:.2f} µs, "
        f"the whole send loop {cost['whole_us']:.2f} µs — one core's worth is "
        f"{core_bps / 1e9:.2f} Gbit/s of 1428-byte datagrams.",
        "",
        "What limits it: the kernel's `sendto` (a multicast datagram looped back to the receiver "
        "is copied and queued in the sender's system call) is most of the cost; the Python side "
        "is the cycle generator and the pacer. Building each data packet's LCT header from an "
        "`LctPacket` cost 3.1-3.5 µs per datagram and the whole loop 6.1-6.2 µs (`costs()` run "
        "against flute.py as of commit 7230c01, twice); the sender now encodes a file's header "
        "once and packs only the SBN/ESI per packet (byte-identical: "
        "`test_data_packets_are_byte_identical_to_encoding_each_header`), which "
        "roughly halved the CPU per datagram. Python has no `sendmmsg`, so batching does not "
        "save system calls. In the unpaced run the sender got "
        f"{top['cpu'] / top['seconds'] * 100:.0f}% of a core (the receiver process and the "
        "machine's other load share the 2 CPUs)"
        + (
            f"; the {top['loss'] * 100:.2f}% lost there is the receiver's (one Python process "
            "reading 1428-byte datagrams falls behind), not the sender's."
            if top["loss"] > 0
            else "; the receiver lost nothing."
        ),
        "",
        "Pacing (`fus.carousels.sender.Pacer`) is a cumulative schedule: each datagram leaves "
        "no earlier than its bytes are due, so sleeps that overshoot are made up and the "
        "long-run rate is exact; the error is over the whole run, by the sender's clock, with "
        "the receiver's own measurement beside it. A stall longer than 50 ms (the process "
        "descheduled) is not made up in one burst: the schedule time given up is in the "
        "'stalls given up' column and is what a paced run falls short by on a loaded host.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per paced run")
    parser.add_argument("--max-seconds", type=float, default=4.0, help="per unpaced run")
    parser.add_argument("--tries", type=int, default=3, help="unpaced runs (best reported)")
    parser.add_argument("--size-mib", type=int, default=32)
    parser.add_argument("--no-write", action="store_true", help="print, do not write the report")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    size = args.size_mib * 1024 * 1024
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fw.bin"
        path.write_bytes(os.urandom(size))
        cost = costs(path, size)
        # the highest rate is the best of a few unpaced runs: on a shared 2-CPU machine one run
        # measures the neighbours' load as much as the sender
        tries = sorted(
            (send(path, size, UNPACED, args.max_seconds, _free_port()) for _ in range(args.tries)),
            key=lambda r: r["sent_bps"],
        )
        rows = [
            (f"highest rate (best of {args.tries})", tries[-1]),
            *(
                [(f"unpaced: median of {args.tries}", tries[len(tries) // 2])]
                if args.tries > 2
                else []
            ),
            ("10 Mbit/s", send(path, size, 10e6, args.seconds, _free_port())),
            ("100 Mbit/s", send(path, size, 100e6, args.seconds, _free_port())),
        ]
    command = "python -m tests.bench.carousels" + (" " + " ".join(argv) if argv else "")
    text = report(rows, cost, args, load, command)
    print(text)
    if not args.no_write:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(text)
    return text


if __name__ == "__main__":
    main()
