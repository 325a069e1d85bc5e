"""Load (or update) the shipped IPTV profile library; idempotent."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from acs.homenet.library import LIBRARY
from acs.homenet.models import Profile
from acs.homenet.services import save_profile


class Command(BaseCommand):
    help = "Load the shipped IPTV home-network profiles (disabled until enabled); idempotent."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        created = updated = 0
        for entry in LIBRARY:
            profile = Profile.objects.filter(name=entry["name"]).first()
            if profile is not None and not profile.library:
                self.stderr.write(f"skipped {entry['name']!r}: an operator's profile has that name")
                continue
            if profile is None:
                profile = Profile(name=entry["name"], library=True, enabled=False)
                created += 1
            else:
                updated += 1
            profile.description = entry.get("description", "")
            profile.layer = entry["layer"]
            profile.priority = entry["priority"]
            profile.triggers = entry["triggers"]
            profile.tags = entry.get("tags", [])
            profile.values = entry["values"]
            profile.objects_rules = entry["objects"]
            save_profile(profile, actor=None)
        self.stdout.write(f"profile library: {created} created, {updated} updated")
