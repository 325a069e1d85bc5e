"""Golden decodes by an independent implementation: tshark reads what our senders write (SAP/SDP,
ALC/LCT/FLUTE, MPEG-TS with DSM-CC and CRC checks). Skipped, with the reason, without tshark."""

from __future__ import annotations

import hashlib
import io
import ipaddress

from fus.metadata import model as m
from fus.multicast import dsmcc, flute, sap, sdp
from tests.fus.multicast.wire import (
    layer,
    needs_tshark,
    tshark_fields,
    tshark_json,
    tshark_text,
    write_pcap,
)

pytestmark = needs_tshark

ADDR = {"src": "192.168.1.1", "dst": "239.255.1.1"}


@needs_tshark
def test_tshark_decodes_our_sap_and_sdp(tmp_path):
    ann = sdp.Announcement(
        "dvb-fus",
        2890844526,
        2890842807,
        ipaddress.ip_address("10.47.16.5"),
        (
            sdp.Population(
                m.DeviceClass("00D09D", "Fred"),
                "3.0",
                "fred",
                10,
                (("fred.bin", 10),),
                sdp.Delivery(sdp.FLUTE_PROTO, ipaddress.ip_address("239.255.1.2"), 49153, tsi=142),
            ),
        ),
    )
    payload = sdp.write_announcement(ann)
    data = sap.encode(sap.SapPacket(ann.origin_address, sap.message_id_hash(payload), payload))
    pcap = write_pcap(tmp_path / "sap.pcap", [data], sport=9875, dport=9875, **ADDR)
    (packet,) = tshark_json(pcap)
    s = layer(packet, "sap")
    assert s["sap.flags_tree"]["sap.flags.v"] == "1"
    assert s["sap.flags_tree"]["sap.flags.a"] == "0"
    assert s["sap.message_identifier_hash"] == f"0x{sap.message_id_hash(payload):04x}"
    assert s["sap.originating_source"] == "10.47.16.5"
    assert s["sap.payload_type"] == "application/sdp"
    d = layer(packet, "sdp")
    assert d["sdp.session_name"] == "dvb-update"
    assert d["sdp.owner_tree"]["sdp.owner.username"] == "dvb-fus"
    assert d["sdp.media_tree"]["sdp.media.proto"] == "FLUTE/UDP"
    assert "x-dvb-rms-ce-manufacturer:00D09D" in str(d)


@needs_tshark
def test_tshark_decodes_our_alc_lct_and_fdt(tmp_path):
    data = b"firmware!" * 400
    session = flute.Session(
        tsi=142,
        files=(
            flute.SenderFile(
                1,
                "fw.bin",
                len(data),
                hashlib.md5(data, usedforsecurity=False).digest(),
                lambda: io.BytesIO(data),
            ),
        ),
    )
    datagrams = list(session.cycle())
    pcap = write_pcap(tmp_path / "flute.pcap", datagrams, sport=4000, dport=49153, **ADDR)
    packets = tshark_json(
        pcap,
        "-d",
        "udp.port==49153,alc",
        "-o",
        "alc.lct.ext.192:flute",
        "-o",
        "alc.lct.ext.193:flute",
    )
    assert len(packets) == len(datagrams)
    lcts = [layer(p, "alc")["rmt-lct"] for p in packets]
    assert {lct["rmt-lct.tsi"] for lct in lcts} == {"142"}
    assert {lct["rmt-lct.toi"] for lct in lcts} == {"0", "1"}
    fdt_packet = layer(packets[0], "alc")
    fti = fdt_packet["rmt-lct"]["rmt-lct.ext_tree"]["rmt-lct.hec.type_tree"]
    fdt_xml = session.fdt_packets()[0]
    assert fti["rmt-fec.fti.encoding_symbol_length"] == "1400"
    assert fti["rmt-fec.fti.max_source_block_length"] == str(session.max_source_block_length)
    assert (
        int(fti["rmt-fec.fti.transfer_length"]) == len(fdt_xml) - 40
    )  # the whole FDT in one symbol
    assert "FDT-Instance" in fdt_packet["xml"]["xml.tag"]
    data_packets = [
        layer(p, "alc")["rmt-fec"]
        for p in packets
        if layer(p, "alc")["rmt-lct"]["rmt-lct.toi"] == "1"
    ]
    assert [int(f["rmt-fec.esi"], 16) for f in data_packets] == list(range(len(data_packets)))
    assert {f["rmt-fec.encoding_id"] for f in data_packets} == {"0"}


@needs_tshark
def test_tshark_decodes_our_dsmcc_carousel_and_checks_its_crcs(tmp_path):
    data = b"x" * 10000
    car = dsmcc.Carousel([dsmcc.CarouselFile("fw.bin", data)], pid=0x1F4, ouis=[0x00D09D])
    datagrams = list(car.cycle())
    pcap = write_pcap(tmp_path / "dsmcc.pcap", datagrams, sport=4000, dport=32000, **ADDR)
    rows = tshark_fields(
        pcap,
        [
            "mpeg_dsmcc.message_id",
            "mpeg_dsmcc.ddb.block_num",
            "mpeg_dsmcc.dii.module_size",
            "mpeg_sect.crc.invalid",
            "mpeg_pmt.stream.type",
            "mpeg_pmt.stream.elementary_pid",
        ],
        "-d",
        "udp.port==32000,mp2t",
        "-o",
        "mpeg_dsmcc.verify_crc:TRUE",
    )
    ids = [i for row in rows for i in row[0].split("/") if i]
    assert {"0x1002", "0x1003"} <= set(ids)
    blocks = [int(b, 16) for row in rows for b in row[1].split("/") if b]
    assert blocks == list(range(-(-len(data) // dsmcc.MAX_BLOCK_SIZE)))
    assert {r[2] for r in rows if r[2]} == {str(len(data))}
    assert not any(r[3] for r in rows)  # no section CRC flagged invalid
    assert ("0x0b", "0x01f4") in {(r[4], r[5]) for r in rows}
    text = tshark_text(pcap, "-d", "udp.port==32000,mp2t", "-o", "mpeg_dsmcc.verify_crc:TRUE")
    sections = text.count("\nMPEG DSM-CC\n")
    assert "Download Server Initiate" in text
    assert sections == 2 + len(blocks)  # DSI, DII and one DDB per block
    assert text.count("[Verified]") >= sections  # tshark checked every DSM-CC CRC-32
