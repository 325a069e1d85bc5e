"""Give packages created before target rows existed one DeviceClass entry per device class, so the
database targeting engine (`fus.services.targeting`) sees them."""

from django.db import migrations


def forwards(apps, schema_editor):
    FirmwarePackage = apps.get_model("fus", "FirmwarePackage")
    TargetEntry = apps.get_model("fus", "TargetEntry")
    for package in FirmwarePackage.objects.filter(target_entries__isnull=True).distinct():
        for position, target in enumerate(package.targets.order_by("pk")):
            TargetEntry.objects.create(
                package=package,
                position=position,
                kind="device_class",
                device_class_id=target.device_class_id,
            )


class Migration(migrations.Migration):
    dependencies = [("fus", "0003_targets_entities_metadata")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
