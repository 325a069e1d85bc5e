"""One simulated set-top box: identity, data model, pending Inform events, RPC semantics.

The box is pure state and decisions; `cpesim.fleet` does the I/O (sessions, timers, downloads,
connection requests). Event retention follows TR-069 section 3.7.1.5: events stay pending until an
InformResponse arrives (``6 CONNECTION REQUEST`` is dropped when its session fails), and
``7 TRANSFER COMPLETE`` / ``M Download`` stay until the ACS acknowledged the TransferComplete.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from acs.cwmp import messages as m
from acs.cwmp.codec import CWMP_1_2
from acs.cwmp.faults import FaultCode

from . import rpc
from .datamodel import CwmpFault, DataModel
from .profiles import (
    CONSENT,
    MB,
    PULL,
    PVR_FOLDER,
    VOLUME,
    DeviceSpec,
    pull_managed,
    template,
    variant_of,
)

if TYPE_CHECKING:
    from .fleet import FleetConfig

CPE_METHODS = (
    "GetRPCMethods",
    "GetParameterNames",
    "GetParameterValues",
    "SetParameterValues",
    "GetParameterAttributes",
    "SetParameterAttributes",
    "AddObject",
    "DeleteObject",
    "Reboot",
    "FactoryReset",
    "ScheduleInform",
    "Download",
)
FIRMWARE = "1 Firmware Upgrade Image"
MAX_QUEUED_DOWNLOADS = 3
MS = "Device.ManagementServer."
UDP_ADDRESS = MS + "UDPConnectionRequestAddress"
#: Parameters a box keeps in flash across power cycles (see `Box.flash`).
PERSISTENT = (
    "Device.DeviceInfo.SoftwareVersion",
    MS + "Username",
    MS + "Password",
    MS + "ConnectionRequestUsername",
    MS + "ConnectionRequestPassword",
    MS + "PeriodicInformEnable",
    MS + "PeriodicInformInterval",
)

# Events that are dropped, not retried, when their session fails (TR-069 Table 8).
_DISCARD_ON_FAILURE = ("6 CONNECTION REQUEST",)
# Events kept until the TransferComplete is acknowledged.
_TRANSFER_EVENTS = ("7 TRANSFER COMPLETE", "M Download")


def _event_order(event: m.EventStruct) -> tuple[bool, int]:
    number = event.event_code.split(" ", 1)[0]
    return event.event_code.startswith("M "), int(number) if number.isdigit() else 99


@dataclass(slots=True)
class AfterSession:
    """What the box does once the session that asked for it has ended."""

    reboot: str | None = None  # command key
    factory_reset: bool = False
    schedule: list[tuple[int, str]] = field(default_factory=list)
    downloads: list[m.Download] = field(default_factory=list)
    bootstrap: bool = False  # the ACS URL changed
    periodic_changed: bool = False


class Box:
    """A simulated STB. `key` (``OUI-serial``) names it in connection request URLs."""

    __slots__ = (
        "after",
        "booted_at",
        "bootstrapped",
        "changed",
        "config",
        "downloads_queued",
        "events",
        "in_session",
        "index",
        "key",
        "model",
        "online",
        "periodic_token",
        "queued",
        "retries",
        "serial",
        "spec",
        "transfer",
        "wanted",
    )

    def __init__(
        self,
        config: FleetConfig,
        spec: DeviceSpec,
        serial: str,
        index: int,
        software_version: str | None = None,
    ) -> None:
        self.config = config
        self.spec = spec
        self.serial = serial
        self.index = index
        self.key = f"{spec.oui}-{serial}"
        self.model = self._fresh_model(software_version or config.software_version)
        self.booted_at = time.monotonic()
        self.online = False
        self.bootstrapped = False
        self.events: list[m.EventStruct] = []
        self.transfer: m.TransferComplete | None = None
        self.changed: set[str] = set()
        self.retries = 0
        self.after = AfterSession()
        self.downloads_queued = 0
        self.in_session = False
        self.queued = False
        self.wanted = False
        self.periodic_token = 0

    # --- identity and the tree -------------------------------------------------------------------

    def _fresh_model(self, software_version: str) -> DataModel:
        config, spec, serial = self.config, self.spec, self.serial
        fields = {"serial": serial, "oui": spec.oui, "product_class": spec.product_class}
        digest = hashlib.sha256(f"{spec.oui}/{serial}".encode()).digest()
        mac = ":".join(f"{b:02X}" for b in (bytes.fromhex(spec.oui) + digest[:3]))
        overlay = {
            "Device.DeviceInfo.SerialNumber": serial,
            "Device.DeviceInfo.SoftwareVersion": software_version,
            MS + "URL": config.acs_url,
            MS + "Username": config.username.format(**fields),
            MS + "Password": config.password.format(**fields),
            MS + "PeriodicInformInterval": str(config.periodic_interval),
            MS + "ConnectionRequestURL": f"{config.connection_request_base}/{self.key}",
            MS + "ConnectionRequestUsername": config.cr_username.format(**fields),
            MS + "ConnectionRequestPassword": config.cr_password.format(**fields),
            "Device.Ethernet.Interface.1.MACAddress": mac,
            "Device.IP.Interface.1.IPv4Address.1.IPAddress": (
                f"10.{(self.index >> 16) & 255}.{(self.index >> 8) & 255}.{self.index & 255}"
            ),
            CONSENT: "true" if digest[3] / 255 < config.consent_fraction else "false",
        }
        if config.udp_connection_request_address:
            overlay[MS + "UDPConnectionRequestAddress"] = config.udp_connection_request_address
        if spec.kind == "gateway":
            from .gateway import gateway_template

            del overlay[CONSENT]
            return DataModel(gateway_template(spec), overlay, self)
        if spec.kind == "sensor":
            from .sensor import sensor_template

            del overlay[CONSENT]
            return DataModel(sensor_template(spec), overlay, self)
        variant = variant_of(serial, spec.content_variants)
        return DataModel(template(spec, variant), overlay, self)

    @property
    def software_version(self) -> str:
        return self.model.get("Device.DeviceInfo.SoftwareVersion")

    def acs_url(self) -> str:
        return self.model.get(MS + "URL")

    def credentials(self) -> tuple[str, str]:
        return self.model.get(MS + "Username"), self.model.get(MS + "Password")

    def cr_credentials(self) -> tuple[str, str]:
        return (
            self.model.get(MS + "ConnectionRequestUsername"),
            self.model.get(MS + "ConnectionRequestPassword"),
        )

    def periodic_interval(self) -> int | None:
        if self.model.get(MS + "PeriodicInformEnable") != "true":
            return None
        return int(self.model.get(MS + "PeriodicInformInterval"))

    # Context for the data model ------------------------------------------------------------------

    def uptime(self) -> int:
        return int(time.monotonic() - self.booted_at)

    def denied(self, path: str) -> str | None:
        if self.spec.kind != "stb" or self.model.get(CONSENT) == "true":
            return None
        folder = self.model.get(PULL + "Reference").rstrip(".") + "."
        if pull_managed(path, folder):
            return (
                "the user has not enabled operator management of the CDS pull storage "
                f"({CONSENT} is false)"
            )
        return None

    def other_bytes(self, path: str) -> int:
        """Bytes of files the tree does not list: recordings in the PVR folder, system files."""
        digest = hashlib.sha256(f"{self.key}/{path}".encode()).digest()
        if path == PVR_FOLDER:
            return int.from_bytes(digest[:4], "big") % 80_000 * MB
        if path == VOLUME:
            return 1_500 * MB
        return 0

    # --- events ----------------------------------------------------------------------------------

    def add_event(self, code: str, command_key: str = "") -> None:
        if not code.startswith("M ") and any(e.event_code == code for e in self.events):
            return
        if any(e.event_code == code and e.command_key == command_key for e in self.events):
            return
        self.events.append(m.EventStruct(code, command_key))
        self.wanted = True

    def power_on(self) -> None:
        self.online = True
        self.booted_at = time.monotonic()
        if not self.bootstrapped:
            self.add_event("0 BOOTSTRAP")
        self.add_event("1 BOOT")

    def build_inform(self) -> tuple[m.Inform, tuple[m.EventStruct, ...]]:
        # Standard events first, then the "M <method>" ones (stable within each kind).
        ordered = sorted(self.events, key=_event_order)
        events = tuple(ordered) or (m.EventStruct("2 PERIODIC"),)
        names = list(self.model.template.forced_inform)
        names += sorted(p for p in self.changed if p not in names and self.model.has_param(p))
        # As if the ACS had made it an active-notification parameter (TR-069 G.2.2 asks it to):
        # the ACS learns the address from every Inform.
        if self.config.udp_connection_request_address and UDP_ADDRESS not in names:
            names.append(UDP_ADDRESS)
        parameters = tuple(
            m.ParameterValue(
                name,
                m.TypedValue(self.model.read(name), self.model.schema.param_def(name).type),  # type: ignore[union-attr]
            )
            for name in names
        )
        device = m.DeviceId(
            self.spec.manufacturer, self.spec.oui, self.spec.product_class, self.serial
        )
        inform = m.Inform(
            device_id=device,
            events=events,
            max_envelopes=1,
            current_time=datetime.now(UTC).replace(microsecond=0),
            retry_count=self.retries,
            parameters=parameters,
        )
        return inform, events

    def inform_delivered(self, events: tuple[m.EventStruct, ...]) -> None:
        delivered = set(events)
        self.events = [
            e for e in self.events if e not in delivered or e.event_code in _TRANSFER_EVENTS
        ]
        if any(e.event_code == "0 BOOTSTRAP" for e in events):
            self.bootstrapped = True
        self.changed.clear()
        self.retries = 0

    def session_failed(self) -> None:
        self.events = [e for e in self.events if e.event_code not in _DISCARD_ON_FAILURE]
        self.retries += 1

    def transfer_delivered(self) -> None:
        self.transfer = None
        self.events = [e for e in self.events if e.event_code not in _TRANSFER_EVENTS]

    def retry_delay(self, rng_value: float) -> float:
        """TR-069 3.2.1.1: wait interval range for the retry count, scaled by `rng_value` (0-1)."""
        minimum = int(self.model.get(MS + "CWMPRetryMinimumWaitInterval"))
        multiplier = int(self.model.get(MS + "CWMPRetryIntervalMultiplier")) / 1000
        n = min(max(self.retries, 1), 10)
        low = minimum * multiplier ** (n - 1)
        high = low * multiplier
        return (low + (high - low) * rng_value) * self.config.time_scale

    def local_change(self, path: str, text: str) -> None:
        """A change made on the box itself (the user at the TV, a CDS download): notified per the
        parameter's Notification attribute (1 passive, 2 active: "4 VALUE CHANGE" now)."""
        if self.model.get(path) == text:
            return
        self.model.put(path, text)
        notification = self.model.notification(path)
        if notification:
            self.changed.add(path)
        if notification == 2:
            self.add_event("4 VALUE CHANGE")

    # --- RPCs ------------------------------------------------------------------------------------

    def handle_rpc(self, request: m.Message | m.UnknownMethod) -> m.Message:
        """The answer to one ACS request: its response or a Fault."""
        try:
            return self._dispatch(request)
        except CwmpFault as fault:
            return m.Fault(fault.code, fault.message, fault.parameter_faults)

    def _dispatch(self, request: m.Message | m.UnknownMethod) -> m.Message:
        model = self.model
        if isinstance(request, m.GetRPCMethods):
            return m.GetRPCMethodsResponse(CPE_METHODS)
        if isinstance(request, m.GetParameterNames):
            return rpc.get_parameter_names(model, request).response
        if isinstance(request, m.GetParameterValues):
            return rpc.get_parameter_values(model, request).response
        if isinstance(request, m.GetParameterAttributes):
            return rpc.get_parameter_attributes(model, request).response
        if isinstance(request, m.SetParameterAttributes):
            return rpc.set_parameter_attributes(model, request).response
        if isinstance(request, m.SetParameterValues):
            before_url = self.acs_url()
            applied = rpc.set_parameter_values(model, request)
            self.changed.difference_update(applied.changed)  # the ACS knows what it set
            if self.acs_url() != before_url:
                self.after.bootstrap = True
            if any(p.startswith(MS + "PeriodicInform") for p in applied.changed):
                self.after.periodic_changed = True
            return applied.response
        if isinstance(request, m.AddObject):
            return rpc.add_object(model, request).response
        if isinstance(request, m.DeleteObject):
            return rpc.delete_object(model, request).response
        if isinstance(request, m.Reboot):
            self.after.reboot = request.command_key
            return m.RebootResponse()
        if isinstance(request, m.FactoryReset):
            self.after.factory_reset = True
            return m.FactoryResetResponse()
        if isinstance(request, m.ScheduleInform):
            if request.delay_seconds < 1:
                raise CwmpFault(FaultCode.INVALID_ARGUMENTS, "DelaySeconds must be at least 1")
            self.after.schedule.append((request.delay_seconds, request.command_key))
            return m.ScheduleInformResponse()
        if isinstance(request, m.Download):
            return self._download(request)
        name = request.name if isinstance(request, m.UnknownMethod) else type(request).__name__
        raise CwmpFault(FaultCode.METHOD_NOT_SUPPORTED, f"Method not supported: {name}")

    def _download(self, request: m.Download) -> m.Message:
        if request.file_type != FIRMWARE:
            raise CwmpFault(
                FaultCode.INVALID_ARGUMENTS,
                f"FileType {request.file_type!r} is not supported (only {FIRMWARE!r})",
            )
        if not request.url.lower().startswith(("http://", "https://")):
            raise CwmpFault(
                FaultCode.UNSUPPORTED_TRANSFER_PROTOCOL,
                f"{request.url!r}: only http and https downloads are supported",
            )
        if self.downloads_queued + len(self.after.downloads) >= MAX_QUEUED_DOWNLOADS:
            raise CwmpFault(
                FaultCode.RESOURCES_EXCEEDED, f"already {MAX_QUEUED_DOWNLOADS} downloads queued"
            )
        self.after.downloads.append(request)
        return m.DownloadResponse(1)

    def take_after(self) -> AfterSession:
        after, self.after = self.after, AfterSession()
        return after

    # --- lifecycle actions (called by the fleet at the right time) ---------------------------------

    def factory_reset(self) -> None:
        """Back to the factory tree and credentials (the firmware stays installed)."""
        self.model = self._fresh_model(self.software_version)
        self.bootstrapped = False
        self.events = []
        self.transfer = None
        self.changed.clear()

    def flash(self) -> dict:
        """What the box keeps across a power cycle: the firmware it runs, the credentials and
        inform settings the ACS gave it, and whether it has bootstrapped (`Fleet.save_state`)."""
        return {
            "bootstrapped": self.bootstrapped,
            "values": {p: self.model.get(p) for p in PERSISTENT if self.model.has_param(p)},
        }

    def restore(self, flash: dict) -> None:
        """Power on with what `flash()` kept (unknown or malformed entries are ignored)."""
        values = flash.get("values") if isinstance(flash, dict) else None
        if not isinstance(values, dict):
            return
        for path in PERSISTENT:
            text = values.get(path)
            if isinstance(text, str) and self.model.has_param(path):
                self.model.put(path, text)
        self.bootstrapped = flash.get("bootstrapped") is True

    def install(self, software_version: str) -> None:
        self.model.put("Device.DeviceInfo.SoftwareVersion", software_version)

    def namespace(self) -> str:
        return self.config.namespace or CWMP_1_2
