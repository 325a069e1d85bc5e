"""Reading XML from outside (pure: lxml only): the one hardened parser configuration and the
DOCTYPE check every reader of outside XML uses (RMS-FUS metadata, SD&S records, FLUTE FDTs, update
reports, cpesim's QRC answers).

Entities are never resolved, nothing is fetched, no DTD is loaded, huge trees are refused; a
DOCTYPE in the prolog is found before the parser sees the document, so that no declaration is
even read.
"""

from __future__ import annotations

import re

from lxml import etree

_PROLOG_ITEM = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)


def hardened_parser(*, strip_comments: bool = False) -> etree.XMLParser:
    """A parser for outside bytes; `strip_comments` also drops comments and processing
    instructions from the tree."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=strip_comments,
        remove_pis=strip_comments,
    )


def prolog_doctype_line(data: bytes) -> int | None:
    """The line of a DOCTYPE declaration in the document's prolog, or None."""
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    while match := _PROLOG_ITEM.match(data, pos):
        pos = match.end()
    if data.startswith(b"<!DOCTYPE", pos):
        return data.count(b"\n", 0, pos) + 1
    return None
