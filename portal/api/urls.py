"""The REST API root: each app registers its viewsets here."""

from rest_framework.routers import DefaultRouter

from fus.api.views import DeviceClassViewSet, FirmwarePackageViewSet, ManufacturerViewSet

router = DefaultRouter()
router.register("manufacturers", ManufacturerViewSet)
router.register("device-classes", DeviceClassViewSet)
router.register("firmware", FirmwarePackageViewSet)

urlpatterns = router.urls
