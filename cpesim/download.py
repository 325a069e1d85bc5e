"""Firmware download of a simulated box: HTTP(S) GET, streamed, SHA-256 checked, faults mapped.

**Which digest.** TR-069's Download carries no checksum, so the expected SHA-256 travels in the
URL's query: ``...?sha256=<64 hex digits>`` (any other query parameters are left alone and sent
to the server as they are). Without it the box checks what it can: the HTTP status, a complete
body, and ``FileSize`` when the ACS gave one.

**Which version.** The box learns the image's SoftwareVersion from (1) a cpesim image header, the
first line ``CPESIM-IMAGE 1 {json}`` with ``software_version`` and optionally ``oui`` and
``product_class`` (a mismatch is refused), else (2) the URL query ``version=<SoftwareVersion>``;
an image with neither is refused as corrupted (9018), since installing it could not change the
version the ACS will check.

Faults reported in TransferComplete (TR-069 A.5):

========  ==============================================================================
9013      the URL is not http/https (answered at once, as a fault of the Download RPC)
9015      the server cannot be contacted (DNS, refused, TLS, connect time-out)
9012      the server refused the credentials (401 after answering its challenge)
9016      the file cannot be accessed (403, 404, other 4xx)
9010      the server failed (5xx), or a failure injected by ``--fail-downloads``
9017      the transfer broke off: connection dropped, body cut short, too slow
9018      the file is corrupted: wrong size, wrong SHA-256, wrong or missing image header
========  ==============================================================================
"""

from __future__ import annotations

import hashlib
import json
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from acs.cwmp.faults import FaultCode

from .auth import ClientAuth
from .http import Connection, HttpError, Unreachable, Url

IMAGE_MAGIC = b"CPESIM-IMAGE 1 "
MAX_IMAGE = 4 * 1024 * 1024 * 1024
_HEAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class DownloadOutcome:
    fault_code: int  # 0: success
    fault_string: str = ""
    software_version: str = ""
    size: int = 0
    sha256: str = ""


def make_image(
    software_version: str, *, oui: str = "", product_class: str = "", payload: bytes = b""
) -> bytes:
    """A firmware image the simulator recognises (tests, demos and the FUS fixtures use it)."""
    header = {"software_version": software_version}
    if oui:
        header["oui"] = oui
    if product_class:
        header["product_class"] = product_class
    return IMAGE_MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload


def read_header(head: bytes) -> dict[str, str] | None:
    """The cpesim image header at the start of a file, or None when there is none."""
    if not head.startswith(IMAGE_MAGIC):
        return None
    line = head[len(IMAGE_MAGIC) :].split(b"\n", 1)[0]
    try:
        data = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def url_hints(url: str) -> tuple[str | None, str | None]:
    """(expected sha256, version) from the URL's query."""
    query = parse_qs(urlsplit(url).query)
    sha = query.get("sha256", [None])[0]
    version = query.get("version", [None])[0]
    return (sha.lower() if sha else None), version


async def fetch_firmware(
    url: str,
    *,
    oui: str,
    product_class: str,
    username: str = "",
    password: str = "",
    file_size: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 600.0,
    connect_timeout: float = 10.0,
    sha256: str | None = None,
    version: str | None = None,
) -> DownloadOutcome:
    """Download `url` and check it; never raises for a transfer problem (see the fault table).

    `sha256` and `version` are the expected digest and the announced SoftwareVersion when the box
    learnt them elsewhere (a QRC answer); they take the place of the URL's query hints."""
    try:
        target = Url.parse(url)
    except ValueError as exc:
        return DownloadOutcome(FaultCode.UNSUPPORTED_TRANSFER_PROTOCOL, str(exc))
    expected_sha, url_version = url_hints(url)
    expected_sha = sha256.lower() if sha256 else expected_sha
    url_version = version or url_version
    auth = ClientAuth(username, password) if username else None
    try:
        connection = await Connection.open(target, ssl_context=ssl_context, timeout=connect_timeout)
    except Unreachable as exc:
        return DownloadOutcome(FaultCode.FILE_SERVER_UNREACHABLE, str(exc))
    try:
        for _attempt in range(3):
            headers = [("User-Agent", "cpesim"), ("Accept", "*/*")]
            authorization = auth.header("GET", target.target) if auth else None
            if authorization:
                headers.append(("Authorization", authorization))
            await connection.send("GET", target.target, headers)
            response = await connection.read_head(connect_timeout + 20)
            if response.status == 401:
                async for _ in connection.body_chunks(response, limit=64 * 1024, timeout=10):
                    pass
                if auth and auth.accept(response.header_all("www-authenticate")):
                    if connection.closed:
                        await connection.close()
                        connection = await Connection.open(
                            target, ssl_context=ssl_context, timeout=connect_timeout
                        )
                    continue
                return DownloadOutcome(
                    FaultCode.FILE_TRANSFER_AUTHENTICATION_FAILURE,
                    f"{url}: the server refused the credentials (401)",
                )
            break
        if response.status >= 500:
            return DownloadOutcome(
                FaultCode.FILE_TRANSFER_FAILURE, f"{url}: server error {response.status}"
            )
        if response.status != 200:
            return DownloadOutcome(
                FaultCode.FILE_ACCESS_FAILURE, f"{url}: HTTP {response.status} {response.reason}"
            )
        digest = hashlib.sha256()
        size = 0
        head = b""
        async for piece in connection.body_chunks(response, limit=MAX_IMAGE, timeout=timeout):
            digest.update(piece)
            size += len(piece)
            if len(head) < _HEAD_BYTES:
                head += piece[: _HEAD_BYTES - len(head)]
    except Unreachable as exc:
        return DownloadOutcome(FaultCode.FILE_SERVER_UNREACHABLE, str(exc))
    except HttpError as exc:
        return DownloadOutcome(FaultCode.DOWNLOAD_INCOMPLETE, f"{url}: {exc}")
    finally:
        await connection.close()
    sha = digest.hexdigest()
    if file_size and size != file_size:
        return DownloadOutcome(
            FaultCode.FILE_CORRUPTED, f"received {size} bytes, FileSize says {file_size}", size=size
        )
    if expected_sha and sha != expected_sha:
        return DownloadOutcome(
            FaultCode.FILE_CORRUPTED,
            f"SHA-256 {sha} does not match the expected {expected_sha}",
            size=size,
            sha256=sha,
        )
    fault, text, version = image_version(
        head, oui=oui, product_class=product_class, announced=url_version
    )
    if fault:
        return DownloadOutcome(fault, text, size=size, sha256=sha)
    return DownloadOutcome(0, "", version, size, sha)


def image_version(
    head: bytes, *, oui: str, product_class: str, announced: str | None
) -> tuple[int, str, str]:
    """(fault code, text, software version) of an image whose first bytes are `head`: the cpesim
    image header's version (refused when it names another OUI or product class), else the
    `announced` one; neither is 9018."""
    header = read_header(head)
    version = announced
    if header is not None:
        if not header.get("software_version"):
            return FaultCode.FILE_CORRUPTED, "image header without software_version", ""
        for key, mine in (("oui", oui), ("product_class", product_class)):
            theirs = header.get(key)
            if theirs and theirs.upper() != mine.upper():
                return (
                    FaultCode.FILE_CORRUPTED,
                    f"image is for {key} {theirs}, this box is {mine}",
                    "",
                )
        version = header["software_version"]
    if not version:
        return (
            FaultCode.FILE_CORRUPTED,
            "cannot tell the image's software version (no cpesim image header, no version= in the URL)",
            "",
        )
    return 0, "", version
