"""Discovery documents that tell a box where the FUS and the RMS are (pure: no Django).

- `fus.discovery.stub`: the FUS stub file `dvb-ipi-fus-stub.dvb` (TS 102 034 clause 9.2, long and
  compact forms): model, parser, writer.
- `fus.discovery.sdns`: the SD&S `ServiceDiscovery` record with `RMSFUSDiscovery` offerings
  (TS 102 034 clause 5.2.13, schema `sdns_v1.4r13.xsd`, PayloadID 0x08): model, parser, writer.

See docs/discovery.md. The portal builds both from its FUS/RMS entities and approved packages in
`fus.services.entities` and serves them from `fus.views_discovery`.
"""
