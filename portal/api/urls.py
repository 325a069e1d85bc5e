"""The REST API root: each app registers its viewsets here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from acs.api.views import DeviceTaskViewSet, DeviceViewSet
from acs.homenet.api.views import ProfileViewSet
from cds.api.views import DeviceCdsViewSet
from fus.api.views import DeviceClassViewSet, FirmwarePackageViewSet, ManufacturerViewSet
from fus.rollouts.api import RolloutViewSet

router = DefaultRouter()
router.register("manufacturers", ManufacturerViewSet)
router.register("device-classes", DeviceClassViewSet)
router.register("firmware", FirmwarePackageViewSet)
router.register("devices", DeviceViewSet)
router.register("rollouts", RolloutViewSet)
router.register("profiles", ProfileViewSet)
router.register(r"devices/(?P<device_pk>[0-9]+)/tasks", DeviceTaskViewSet, basename="device-tasks")
router.register(r"devices/(?P<device_pk>[0-9]+)/cds", DeviceCdsViewSet, basename="device-cds")

urlpatterns = [
    # The metadata document of a package, at the name the docs give it (no trailing slash).
    path(
        "firmware/<int:pk>/metadata.xml",
        FirmwarePackageViewSet.as_view({"get": "metadata_xml"}),
        name="firmwarepackage-metadata-xml-file",
    ),
    *router.urls,
]
