"""Load the demo data: role groups, demo users, two manufacturers with device classes and firmware.

Idempotent: running it again reuses what exists and never resets a changed password.
"""

import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from fus.choices import FirmwareStatus
from fus.models import DeviceClass, FirmwarePackage, Manufacturer
from fus.services import catalogue
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
        "reporting_orders_url": "https://reports.nordlicht.example/fus",
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
        "reporting_orders_url": "https://fus-reports.meridian.example/v1/report",
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
            for spec in MANUFACTURERS:
                self._manufacturer(spec, users, admin)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Logins:"))
        for username, role, *_ in USERS:
            self.stdout.write(
                f"  {username:<11} {role.label:<24} password: {password_note[username]}"
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
