"""`manage.py import_metadata FILE [FILE ...]`: create or update packages from RMS-FUS metadata.

Each file is imported in its own transaction: on any error nothing of that file is stored, every
problem is printed (line, element path, value) and the command exits non-zero. `-` reads stdin.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from fus.metadata.codec import MAX_DOCUMENT_BYTES
from fus.services.metadata import MetadataImportError, import_metadata


class Command(BaseCommand):
    help = "Import RMS-FUS metadata XML (TS 102 542-4 clause 7) into the firmware catalogue."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="metadata XML file, or -")
        parser.add_argument(
            "--as-user",
            metavar="USERNAME",
            help="attribute the import to this user (and apply their permissions)",
        )

    def handle(self, *args, files, as_user=None, **options):
        actor = None
        if as_user:
            try:
                actor = get_user_model().objects.get(username=as_user)
            except get_user_model().DoesNotExist:
                raise CommandError(f"--as-user: no user {as_user!r}") from None
        failed = 0
        for name in files:
            data = self._read(name)
            try:
                summary = import_metadata(data, actor=actor, source=name)
            except MetadataImportError as exc:
                failed += 1
                self.stderr.write(self.style.ERROR(f"{name}: refused, nothing stored"))
                for message in exc.messages:
                    self.stderr.write(f"  {message}")
                continue
            self.stdout.write(self.style.SUCCESS(f"{name}:"))
            for line in summary.lines():
                self.stdout.write(f"  {line}")
        if failed:
            raise CommandError(f"{failed} of {len(files)} file(s) refused")

    def _read(self, name: str) -> bytes:
        limit = MAX_DOCUMENT_BYTES + 1
        if name == "-":
            return sys.stdin.buffer.read(limit)
        path = Path(name)
        try:
            with path.open("rb") as f:
                return f.read(limit)
        except OSError as exc:
            raise CommandError(f"{name}: {exc.strerror}") from None
