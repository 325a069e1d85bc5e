"""Load the Broadband Forum CWMP schemas (plus the SOAP 1.1 schemas) from /work/shared/specs offline.

The CWMP schemas import the SOAP schemas, and cwmp-1-3/1-4 include older CWMP schemas, by absolute
URL; a resolver maps each URL to the local copy and the parser never touches the network. The
validating schema is a small wrapper that imports the SOAP envelope, SOAP encoding and one CWMP
schema, so a whole envelope is validated: the Body's lax wildcard picks up the cwmp declarations.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lxml import etree

SPECS = Path("/work/shared/specs")
CWMP_DIR = SPECS / "cwmp"
SOAP_DIR = SPECS / "soap"

_LOCAL_COPIES = {
    "http://schemas.xmlsoap.org/soap/envelope/": SOAP_DIR / "soap-envelope.xsd",
    "http://schemas.xmlsoap.org/soap/encoding/": SOAP_DIR / "soap-encoding.xsd",
    **{
        f"http://www.broadband-forum.org/cwmp/cwmp-1-{n}.xsd": CWMP_DIR / f"cwmp-1-{n}.xsd"
        for n in range(5)
    },
}


class LocalCopies(etree.Resolver):
    def resolve(self, system_url, public_id, context):  # type: ignore[no-untyped-def]
        if not system_url.startswith(("http:", "https:")):
            return None  # a local file: the default loader reads it
        local = _LOCAL_COPIES.get(system_url)
        if local is None:
            raise AssertionError(f"schema asked for {system_url!r}, which has no local copy")
        return self.resolve_filename(str(local), context)


@functools.cache
def cwmp_schema(xsd_file: str) -> etree.XMLSchema:
    """The validating schema for envelopes, built around one of the CWMP schema files."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(LocalCopies())
    source = etree.parse(str(CWMP_DIR / xsd_file), parser)
    target = source.getroot().get("targetNamespace")
    wrapper = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
      <xs:import namespace="http://schemas.xmlsoap.org/soap/envelope/"
                 schemaLocation="{_LOCAL_COPIES["http://schemas.xmlsoap.org/soap/envelope/"]}"/>
      <xs:import namespace="http://schemas.xmlsoap.org/soap/encoding/"
                 schemaLocation="{_LOCAL_COPIES["http://schemas.xmlsoap.org/soap/encoding/"]}"/>
      <xs:import namespace="{target}" schemaLocation="{CWMP_DIR / xsd_file}"/>
    </xs:schema>"""
    document = etree.fromstring(wrapper.encode(), parser, base_url=str(CWMP_DIR) + "/")
    return etree.XMLSchema(document)


def declared_elements(xsd_file: str) -> frozenset[str]:
    """Names of the top-level elements a CWMP schema file declares (with what it includes)."""
    names: set[str] = set()
    for name in _schema_closure(xsd_file):
        tree = etree.parse(str(CWMP_DIR / name))
        names.update(
            el.get("name")
            for el in tree.getroot().iterchildren("{http://www.w3.org/2001/XMLSchema}element")
        )
    return frozenset(names)


def _schema_closure(xsd_file: str) -> list[str]:
    seen = [xsd_file]
    for name in seen:
        tree = etree.parse(str(CWMP_DIR / name))
        for tag in ("include", "redefine"):
            for el in tree.getroot().iterchildren(f"{{http://www.w3.org/2001/XMLSchema}}{tag}"):
                included = el.get("schemaLocation").rsplit("/", 1)[-1]
                if included not in seen:
                    seen.append(included)
    return seen
