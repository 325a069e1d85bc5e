"""Hypothesis strategies for the discovery documents: stub files and SD&S RMS-FUS records.

Everything drawn here is valid: the writers accept it and the readers give it back unchanged.
"""

from __future__ import annotations

from hypothesis import strategies as st

from fus.discovery import sdns, stub

# -- stub file ----------------------------------------------------------------------------------

#: One-line text: anything but control characters (the format is line-based).
stub_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from('";%=[] '), max_size=30
)
ouis = st.from_regex(r"[0-9A-F]{6}", fullmatch=True)
numbers = st.integers(0, 2**63 - 1)
ipv4_multicast = st.tuples(st.integers(224, 239), *[st.integers(0, 255)] * 3).map(
    lambda t: ".".join(map(str, t))
)
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True)
paths = st.from_regex(r"(/([A-Za-z0-9._~!$&'()*+,=:@-]|%[0-9A-F]{2}){0,12}){0,4}", fullmatch=True)


@st.composite
def stub_resource(draw: st.DrawFn) -> stub.ResourceAccessInfo:
    choice = draw(st.sampled_from(["http", "dvb-mcast", "bare"]))
    protocol = draw(st.none() | st.sampled_from(stub.MulticastProtocol))
    if choice == "http":
        scheme = draw(st.sampled_from(["http", "https"]))
        port = draw(st.none() | st.integers(1, 65535))
        url = f"{scheme}://{draw(hosts)}{'' if port is None else f':{port}'}{draw(paths)}"
        return stub.ResourceAccessInfo(url, protocol)
    group, port = draw(ipv4_multicast), draw(st.integers(1, 65535))
    if choice == "dvb-mcast":
        payload = draw(st.sampled_from(["sap", "dvbstp"]))
        return stub.ResourceAccessInfo(f"dvb-mcast://{group}:{port}?payload={payload}", protocol)
    address = group if draw(st.booleans()) else f"{group}:{port}"
    return stub.ResourceAccessInfo(address, draw(st.sampled_from(stub.MulticastProtocol)))


stub_candidates = st.builds(
    stub.UpgradeCandidate,
    device_class_info=st.builds(
        stub.DeviceClassInfo,
        manufacturer_oui=ouis,
        product_class=st.none() | stub_text,
        hardware_version=st.none() | stub_text,
        software_version=st.none() | stub_text,
    ),
    resource_access_info=stub_resource(),
    software_package_info=st.builds(
        stub.SoftwarePackageInfo,
        package_name=st.none() | stub_text,
        package_size=st.none() | numbers,
        footprint_size_volatile=st.none() | numbers,
        footprint_size_non_volatile=st.none() | numbers,
        signed_packaged=st.none() | st.booleans(),
    ),
)
stub_files = st.builds(stub.StubFile, st.lists(stub_candidates, max_size=4).map(tuple))

# -- SD&S ---------------------------------------------------------------------------------------

#: Text XML can carry (no controls but tab and line feed; no surrogates or non-characters).
xml_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co")) | st.sampled_from("\t\n <>&\"'"),
    max_size=30,
)
languages = st.from_regex(r"[a-z]{3}", fullmatch=True)
texts = st.builds(sdns.Text, xml_text, languages)
decimals = st.from_regex(r"[0-9]{1,18}", fullmatch=True) | st.from_regex(
    r"[+-]?[0-9]{1,5}\.[0-9]{0,4}", fullmatch=True
)
domains = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\.[a-z]{2,6}){1,3}", fullmatch=True)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
uris = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https"]),
    domains | ipv4,
    st.sampled_from(["", ":8000", ":7547"]),
    paths,
)
multicast = st.builds(
    sdns.MulticastAddress,
    address=ipv4_multicast | domains,
    port=st.integers(0, 65535),
    source=st.none() | ipv4 | domains,
    protocol=st.none() | st.sampled_from(sdns.AnnouncementProtocol),
)
announcements = st.builds(
    sdns.FUSAnnouncement,
    description=st.none() | xml_text,
    multicast_address=st.none() | multicast,
    unicast_announcement=st.none() | uris,
    qrc_location=st.none() | uris,
)
fus_providers = st.builds(
    sdns.FUSProvider,
    names=st.lists(texts, min_size=1, max_size=2).map(tuple),
    fus_id=decimals,
    announcements=st.lists(announcements, min_size=1, max_size=3).map(tuple),
    descriptions=st.lists(texts, max_size=2).map(tuple),
    logo_uri=st.none() | uris,
)
rms_providers = st.builds(
    sdns.RMSProvider,
    location=uris,
    names=st.lists(texts, min_size=1, max_size=2).map(tuple),
    rms_id=st.none() | decimals,
    descriptions=st.lists(texts, max_size=2).map(tuple),
    logo_uri=st.none() | uris,
)
records = st.builds(
    sdns.RMSFUSDiscovery,
    domain_name=domains,
    providers=st.one_of(
        st.lists(fus_providers, min_size=1, max_size=3).map(tuple),
        st.lists(rms_providers, min_size=1, max_size=3).map(tuple),
    ),
    version=st.none() | st.integers(0, 255),
)
service_discoveries = st.builds(
    sdns.ServiceDiscovery,
    records=st.lists(records, max_size=3).map(tuple),
    version=st.none() | st.integers(0, 255),
)
