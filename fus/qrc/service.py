"""The QRC SOAP service (TS 102 542-4 clause 11.1.2, interface 8): one spyne `Application`, SOAP 1.1
in and out, document/literal, requests validated by lxml against the schema spyne derives from
`fus.qrc.messages`. Mounted once, through spyne's `DjangoView`, by `fus.qrc.views`.

A successful answer is written by `fus.qrc.response` (the bytes spyne's serialiser would write, set
as `ctx.out_string`, spyne's hook for a method that writes its own output); faults, the WSDL and
answers lxml could not write go through spyne's serialiser."""

from __future__ import annotations

import logging

from django.utils import timezone
from spyne import Application, Fault, ServiceBase, rpc
from spyne.protocol.soap import Soap11

from fus.delivery.auth import box_id
from fus.metadata.targeting import DeviceIdentity
from fus.qrc import messages as msg
from fus.qrc.answers import Offer, firmware_update_check
from fus.qrc.response import response_bytes

logger = logging.getLogger(__name__)


def _to_soap(offer: Offer) -> msg.FirmwareUpdate:
    validity = None
    if offer.valid_from or offer.valid_until:
        validity = msg.ValidityTimeRange(StartTime=offer.valid_from, EndTime=offer.valid_until)
    return msg.FirmwareUpdate(
        SoftwareVersion=offer.software_version,
        PackageName=offer.package_name,
        PackageSize=offer.package_size,
        UpdateDescriptor=msg.UpdateDescriptor(
            UpdateFlag=offer.update_flag,
            UpdateMethod=offer.update_method,
            UpdatePriority=offer.update_priority,
        ),
        ValidityTimeRange=validity,
        MessageDescriptor=offer.message or None,
        Files=[
            msg.PackageFile(
                FileName=f.file_name,
                FileSize=f.file_size,
                SHA256=f.sha256,
                ModuleType=f.module_type or None,
                Locations=[
                    msg.Location(URL=loc.url, Interface=loc.interface, Preference=loc.preference)
                    for loc in f.locations
                ],
            )
            for f in offer.files
        ],
    )


class FirmwareUpdateService(ServiceBase):
    @rpc(
        msg.ManufacturerOUI,
        msg.ProductClass,
        msg.HardwareVersion,
        msg.SoftwareVersion,
        msg.SerialNumber,
        msg.MACAddress,
        _returns=msg.Updates,
        _in_variable_names={
            "oui": "ManufacturerOUI",
            "product_class": "ProductClass",
            "hardware_version": "HardwareVersion",
            "software_version": "SoftwareVersion",
            "serial_number": "SerialNumber",
            "mac_address": "MACAddress",
        },
        _out_variable_name="Updates",
    )
    def FirmwareUpdateCheck(  # the operation's name on the wire
        ctx, oui, product_class, hardware_version, software_version, serial_number, mac_address
    ):
        """The applicable updates for this box, best first; an empty list when there is none."""
        request = ctx.transport.req
        identity = DeviceIdentity(
            manufacturer_oui=oui.upper(),
            product_class=product_class,
            hardware_version=hardware_version or None,
            software_version=software_version or None,
            serial_number=serial_number or None,
            mac_address=mac_address or None,
        )
        box = box_id(oui, serial_number)
        if getattr(request, "fus_box_required", False) and request.fus_box != box:
            raise Fault(
                "Client.Authentication",
                f"Authenticated as {request.fus_box!r}, asking about {box!r}.",
            )
        try:
            offers = firmware_update_check(
                identity,
                at=timezone.now(),
                origin=request.build_absolute_uri("/").rstrip("/"),
                box=box,
            )
        except Exception as exc:  # never leak a traceback to a box
            logger.exception("QRC check failed for %s", box)
            raise Fault("Server", "The update check failed; try again later.") from exc
        if isinstance(ctx.out_protocol, Soap11):
            try:
                # spyne's own hook: a method that sets out_string writes the outgoing bytes
                ctx.out_string = [response_bytes(offers)]
            except ValueError:
                pass  # text lxml cannot write: spyne's serialiser reports it as it always did
            else:
                return None
        return [_to_soap(offer) for offer in offers]


def build_application() -> Application:
    return Application(
        [FirmwareUpdateService],
        tns=msg.NAMESPACE,
        name=msg.SERVICE_NAME,
        in_protocol=Soap11(validator="lxml"),
        out_protocol=Soap11(),
    )
