"""`manage.py export_metadata PACKAGE_ID`: write a package's RMS-FUS metadata XML to stdout."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from fus.metadata import codec
from fus.metadata.model import Namespace
from fus.models import FirmwarePackage
from fus.services.metadata import export_metadata


class Command(BaseCommand):
    help = "Write a firmware package's RMS-FUS metadata XML to stdout."

    def add_arguments(self, parser):
        parser.add_argument("package_id", type=int, metavar="PACKAGE_ID")
        parser.add_argument(
            "--namespace",
            choices=[n.prefix for n in Namespace],
            help="rms (IPv4) or rms12 (IPv6); default: rms unless an IPv6 address needs rms12",
        )

    def handle(self, *args, package_id, namespace=None, **options):
        package = FirmwarePackage.objects.filter(pk=package_id).first()
        if package is None:
            raise CommandError(f"no firmware package with id {package_id}")
        ns = Namespace[namespace.upper()] if namespace else None
        try:
            data = export_metadata(package, namespace=ns)
        except codec.MetadataError as exc:
            raise CommandError(
                f"package {package_id} cannot be written as metadata: {exc}"
            ) from None
        binary = getattr(self.stdout, "buffer", None)
        if binary is not None:  # the bytes as written (UTF-8, with their XML declaration)
            binary.write(data)
            binary.flush()
        else:
            self.stdout.write(data.decode(), ending="")
