"""Load the demo data: role groups, demo users, two manufacturers with device classes and firmware.

Idempotent: running it again reuses what exists and never resets a changed password.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from fus.choices import FirmwareStatus
from fus.metadata import codec
from fus.metadata import model as md
from fus.models import (
    Carousel,
    DeviceClass,
    FirmwarePackage,
    FusEntity,
    Manufacturer,
    RmsEntity,
)
from fus.services import catalogue
from fus.services import entities as entity_services
from fus.services.carousels import save_carousel, start_carousel
from fus.services.entities import LocationSpec
from fus.services.metadata import import_metadata
from fus.uploads import incoming_from_bytes
from portal.audit import acting_as
from portal.choices import Role
from portal.roles import sync_roles

USERS = [
    # user name, role, staff, superuser, first name
    ("admin", Role.ADMIN, True, True, "Ada"),
    ("noc", Role.NOC, True, False, "Noah"),
    ("helpdesk", Role.HELPDESK, False, False, "Hana"),
    ("supplier-a", Role.SUPPLIER, False, False, "Sami"),
    ("supplier-b", Role.SUPPLIER, False, False, "Bea"),
]

MANUFACTURERS = [
    {
        "name": "Nordlicht Electronics",
        "ouis": ["00D09E", "00D09F"],
        "reporting_orders_url": "http://127.0.0.1:8000/fus/report",  # the FUS collects reports
        "member": "supplier-a",
        "classes": [
            ("00D09E", "NL-STB4000", "HD IPTV set-top box", ["1.0", "1.1"]),
            ("00D09E", "NL-STB4500", "UHD IPTV set-top box with PVR", ["2.0"]),
        ],
        "package": (
            "nl-stb4000-4.2.1",
            "4.2.1",
            ["NL-STB4000"],
            "Security fixes; faster channel change.",
        ),
        "approve": False,
    },
    {
        "name": "Meridian Media Devices",
        "ouis": ["3C62F0"],
        "reporting_orders_url": "http://127.0.0.1:8000/fus/report",
        "member": "supplier-b",
        "classes": [("3C62F0", "MX-300", "Hybrid DVB-C/IPTV receiver", ["A1", "A2"])],
        "package": ("mx300-7.0.3", "7.0.3", ["MX-300"], "HEVC decoder update."),
        "approve": True,
    },
]


def demo_image(name: str, size: int = 256 * 1024) -> bytes:
    """Deterministic bytes standing for a firmware image."""
    out = bytearray()
    block = hashlib.sha256(name.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


class Command(BaseCommand):
    help = "Load the demo users, manufacturers, device classes and firmware (idempotent)."

    def handle(self, *args, **options):
        sync_roles()
        password_note = {}
        with transaction.atomic():
            users = {}
            for username, role, staff, superuser, first in USERS:
                user, created = get_user_model().objects.get_or_create(
                    username=username,
                    defaults={"is_staff": staff, "is_superuser": superuser, "first_name": first},
                )
                if created:
                    user.set_password(settings.DEMO_PASSWORD or username)
                    user.save()
                user.groups.add(Group.objects.get(name=role))
                users[username] = user
                password_note[username] = (
                    (settings.DEMO_PASSWORD or username) if created else "(unchanged)"
                )
        admin = users["admin"]
        with acting_as(user=admin):
            self._entities(admin)
            for spec in MANUFACTURERS:
                self._manufacturer(spec, users, admin)
            self._staged_beta(users)
            self._carousels(admin)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Logins:"))
        for username, role, *_ in USERS:
            self.stdout.write(
                f"  {username:<11} {role.label:<24} password: {password_note[username]}"
            )

    def _carousels(self, admin):
        """Demo carousels: a FLUTE carousel of the approved demo firmware and its SAP announcement,
        started when first created (the `make run` demo runs them: `start_carousel` queues their
        loops for the carousel worker, and the watchdog keeps them running), and a DVBSTP one for
        the metadata, the FUS stub and the SD&S record, left stopped (start it on
        /catalogue/carousels/). Administratively scoped groups, sent on loopback only (interface
        127.0.0.1, TTL 0), at low rates. SAP on its RFC 2974 port 9875, DVBSTP with the stub on
        3937 (TS 102 034 9.1.1), FLUTE on 4001. Running the seed again creates what is missing and
        starts nothing: a carousel the operator stopped stays stopped."""
        approved = list(FirmwarePackage.objects.filter(status=FirmwareStatus.APPROVED))
        specs = [
            # name, kind, group, port, rate (bit/s), extra fields, started when created
            ("demo-flute", "flute", "239.255.10.1", 4001, 1_000_000, {"tsi": 1}, True),
            ("demo-sap", "sap", "239.255.255.255", 9875, 16_000, {}, True),  # RFC 2974 scope
            ("demo-dvbstp", "dvbstp", "239.255.10.2", 3937, 64_000, {"include_stub": True}, False),
        ]
        for name, kind, group, port, rate, extra, start in specs:
            if Carousel.objects.filter(name=name).exists():
                continue
            carousel = Carousel(
                name=name,
                kind=kind,
                group=group,
                port=port,
                ttl=0,
                interface="127.0.0.1",
                rate_bps=rate,
                **extra,
            )
            save_carousel(carousel, packages=approved, actor=admin)
            if start and approved:
                start_carousel(carousel, actor=admin)
                self.stdout.write(f"Started carousel {name} ({group}:{port}, loopback only).")

    def _entities(self, admin):
        """The portal's own FUS and RMS entities (stub file, SD&S record), at the local portal."""
        base = "http://127.0.0.1:8000"
        if not FusEntity.objects.exists():
            entity_services.save_fus_entity(
                FusEntity(
                    name="RMS-FUS Portal FUS",
                    fus_id="1",
                    description="Demo firmware update server",
                    supported_interfaces=["Unicast Delivery", "Query Response Channel"],
                    is_default=True,
                ),
                locations=[
                    LocationSpec("fus_query", url=f"{base}/qrc", preference=1),
                    LocationSpec("unicast", url=f"{base}/firmware/", preference=1),
                ],
                actor=admin,
            )
        if not RmsEntity.objects.exists():
            entity_services.save_rms_entity(
                RmsEntity(name="RMS-FUS Portal ACS", rms_id="1", is_default=True),
                locations=[LocationSpec("management_server", url=f"{base}/cwmp", preference=1)],
                actor=admin,
            )

    def _manufacturer(self, spec, users, admin):
        manufacturer, _ = Manufacturer.objects.get_or_create(
            name=spec["name"], defaults={"reporting_orders_url": spec["reporting_orders_url"]}
        )
        if not manufacturer.ouis.exists():
            catalogue.set_manufacturer_ouis(manufacturer, spec["ouis"])
        manufacturer.members.add(users[spec["member"]])
        classes = {}
        for oui, product_class, description, hardware in spec["classes"]:
            dc, _ = DeviceClass.objects.get_or_create(
                oui=oui,
                product_class=product_class,
                defaults={
                    "manufacturer": manufacturer,
                    "description": description,
                    "hardware_versions": hardware,
                },
            )
            classes[product_class] = dc
        name, version, targets, message = spec["package"]
        if FirmwarePackage.objects.filter(manufacturer=manufacturer, package_name=name).exists():
            return
        draft = catalogue.FirmwareDraft(
            software_version=version,
            package_name=name,
            device_classes=[classes[t] for t in targets],
            description=message,
            message_descriptor=message,
            footprint_non_volatile=64 * 1024 * 1024,
        )
        image = incoming_from_bytes(f"{name}.img", demo_image(name))
        package = catalogue.upload_firmware(
            manufacturer,
            draft,
            [catalogue.FirmwareUpload(image=image)],
            actor=users[spec["member"]],
        )
        if spec["approve"] and package.status == FirmwareStatus.VALIDATED:
            catalogue.approve_firmware(package, actor=users["noc"])

    def _staged_beta(self, users):
        """A beta for some NL-STB4500 boxes, declared by RMS-FUS metadata with a RangeList (the
        demo fleet's serials 4500001-4500004 except 4500003), then uploaded, validated, approved."""
        name = "nl-stb4500-2.4.0-beta"
        if FirmwarePackage.objects.filter(package_name=name).exists():
            return
        image = demo_image(name)
        now = timezone.now().replace(microsecond=0)
        doc = md.RMSFUSMetadata(
            mode=md.Mode.MANAGED,
            ce_manufacturer=md.CEManufacturer("00D09E", "Nordlicht Electronics"),
            firmware_upgrade=md.FirmwareUpgrade(
                software_version="2.4.0",
                target_devices=md.TargetDevices(
                    device_groups=(
                        md.DeviceGroup(
                            md.DeviceClassInfo("00D09E", "NL-STB4500", (), ("2.3.0",)),
                            md.RangeList(
                                (
                                    md.Range("4500001", "4500004"),
                                    md.Item(("4500003",), md.Availability.EXCLUSIVE),
                                )
                            ),
                        ),
                    )
                ),
                software_package_info=md.SoftwarePackageInfo(
                    package_name=name,
                    package_size=len(image),
                    package_files=(md.PackageFile(f"{name}.img", len(image)),),
                    update_descriptor=md.UpdateDescriptor(
                        md.UpdateFlag.AUTOMATIC, md.UpdateMethod.NEXT_RESTART, 2
                    ),
                ),
                validity_time_range=md.ValidityTimeRange(
                    now - timedelta(days=1), now + timedelta(days=90)
                ),
                message_descriptors=(md.MessageDescriptor("Beta: new EPG engine.", "eng"),),
            ),
        )
        supplier = users["supplier-a"]
        package = import_metadata(codec.write(doc), actor=supplier, source="seed_demo").package
        catalogue.add_firmware_file(
            package,
            catalogue.FirmwareUpload(image=incoming_from_bytes(f"{name}.img", image)),
            actor=supplier,
        )
        catalogue.validate_firmware(package, actor=supplier)
        catalogue.approve_firmware(package, actor=users["noc"])
