"""factory_boy factories and small builders for catalogue tests."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from factory.django import DjangoModelFactory

from fus.models import DeviceClass, Manufacturer
from fus.services import catalogue
from fus.uploads import incoming_from_bytes


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
        self.save()


class ManufacturerFactory(DjangoModelFactory):
    class Meta:
        model = Manufacturer
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Manufacturer {n}")

    @factory.post_generation
    def ouis(self, create, extracted, **kwargs):
        catalogue.set_manufacturer_ouis(self, extracted or [f"{0xA00000 + self.pk:06X}"])

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        for user in extracted or ():
            self.members.add(user)


class DeviceClassFactory(DjangoModelFactory):
    class Meta:
        model = DeviceClass

    manufacturer = factory.SubFactory(ManufacturerFactory)
    oui = factory.LazyAttribute(lambda o: o.manufacturer.ouis.first().oui)
    product_class = factory.Sequence(lambda n: f"STB-{n}")
    hardware_versions = ["1.0"]


def draft(device_classes, version="1.0.0", name=None, **fields) -> catalogue.FirmwareDraft:
    return catalogue.FirmwareDraft(
        software_version=version,
        package_name=name or f"pkg-{version}-{device_classes[0].pk}",
        device_classes=list(device_classes),
        **fields,
    )


def upload(image_name="image.bin", data=b"firmware-image" * 1000, signature=None):
    up = catalogue.FirmwareUpload(image=incoming_from_bytes(image_name, data))
    up.signature = signature
    return up


def make_package(
    device_class, version="1.0.0", *, actor=None, data=b"\x7fELF" + b"x" * 5000, **fields
):
    return catalogue.upload_firmware(
        device_class.manufacturer,
        draft([device_class], version, **fields),
        [upload(data=data)],
        actor=actor,
    )
