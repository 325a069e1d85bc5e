"""FUS multicast codecs (pure: stdlib, lxml and cryptography only; no Django).

Bytes in, frozen dataclasses out, for both sides of interfaces 5 and 7 of TS 102 542-4 Table 1:

- `sap`: SAP (RFC 2974) packets — IPv4/IPv6 origins, message id hash, deletion, zlib compression,
  optional authentication data (Ed25519 / ECDSA P-256 / RSA signatures, `sign` and `verify`);
- `sdp`: SDP (RFC 4566) sessions, and the DVB RMS-FUS firmware announcement profile (one media
  section per target population, `a=x-dvb-rms-*` attributes);
- `dvbstp`: DVBSTP (TS 102 034 clause 5.4.1) packets, segmentation into sections and reassembly
  (segment versions, CRC-32, ServiceProviderID, private header, GZIP where allowed);
- `flute`: ALC/LCT headers (RFC 5775/5651, RFC 3926 FLUTE v1 and RFC 6726 FLUTE v2), EXT_FDT,
  EXT_FTI, Compact No-Code FEC (RFC 5445) blocking, FDT instances, a sender and a receiver;
- `dsmcc`: the DSM-CC U-N data carousel (ISO/IEC 13818-6, EN 301 192, TS 102 006): DSI, DII and DDB
  messages in MPEG-2 private sections with CRC-32, in 188-byte TS packets, seven per UDP datagram;
  a carousel builder and a receiver;
- `uri`: `dvb-mcast://` URIs (TS 102 034 annex G.3, TS 102 824 clause C.4), IPv4 and IPv6;
- `crc`: CRC-32/MPEG-2 (ISO/IEC 13818-1 annex A).

Every parser refuses bad input with a `DecodeError` naming the protocol, the field, the offset and
the value; receivers (`dvbstp.SegmentAssembler`, `flute.Receiver`, `dsmcc.Receiver`) drop and count
what they cannot use and never raise on outside bytes. A receiver (cpesim) reuses them as they are.
See docs/multicast.md.
"""
