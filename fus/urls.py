"""Catalogue pages under /catalogue/ (namespace `fus`) and the supplier portal under /supplier/."""

from django.urls import include, path

from fus import views, views_discovery
from fus.delivery import pages as delivery_pages

app_name = "fus"

urlpatterns = [
    path("firmware/", views.FirmwareListView.as_view(), name="firmware_list"),
    path("firmware/add/", views.firmware_upload, name="firmware_add"),
    path("firmware/<int:pk>/", views.FirmwareView.as_view(), name="firmware"),
    path("firmware/<int:pk>/edit/", views.FirmwareEditView.as_view(), name="firmware_edit"),
    path("firmware/<int:pk>/delete/", views.FirmwareDeleteView.as_view(), name="firmware_delete"),
    path("firmware/import-metadata/", views.metadata_import, name="metadata_import"),
    path("firmware/<int:pk>/metadata/", views.firmware_metadata, name="firmware_metadata"),
    path(
        "firmware/<int:pk>/metadata.xml", views.firmware_metadata_xml, name="firmware_metadata_xml"
    ),
    path("firmware/<int:pk>/approve/", views.firmware_approve, name="firmware_approve"),
    path("firmware/<int:pk>/retire/", views.firmware_retire, name="firmware_retire"),
    path("firmware/<int:pk>/validate/", views.firmware_validate, name="firmware_validate"),
    path("device-classes/", views.DeviceClassListView.as_view(), name="deviceclass_list"),
    path("device-classes/add/", views.DeviceClassEditView.as_view(), name="deviceclass_add"),
    path("device-classes/<int:pk>/", views.DeviceClassView.as_view(), name="deviceclass"),
    path(
        "device-classes/<int:pk>/edit/",
        views.DeviceClassEditView.as_view(),
        name="deviceclass_edit",
    ),
    path(
        "device-classes/<int:pk>/delete/",
        views.DeviceClassDeleteView.as_view(),
        name="deviceclass_delete",
    ),
    path("manufacturers/", views.ManufacturerListView.as_view(), name="manufacturer_list"),
    path("manufacturers/add/", views.ManufacturerEditView.as_view(), name="manufacturer_add"),
    path("manufacturers/<int:pk>/", views.ManufacturerView.as_view(), name="manufacturer"),
    path(
        "manufacturers/<int:pk>/edit/",
        views.ManufacturerEditView.as_view(),
        name="manufacturer_edit",
    ),
    path(
        "manufacturers/<int:pk>/delete/",
        views.ManufacturerDeleteView.as_view(),
        name="manufacturer_delete",
    ),
    path("manufacturers/<int:pk>/certificates/add/", views.add_certificate, name="certificate_add"),
    path("certificates/<int:pk>/delete/", views.delete_certificate, name="certificate_delete"),
    path("reports/", delivery_pages.UpdateReportListView.as_view(), name="report_list"),
    path("reports/<int:pk>/", delivery_pages.UpdateReportView.as_view(), name="report"),
    path("entities/", views_discovery.entities_page, name="entities"),
    path("carousels/", include("fus.carousels.urls")),
]

supplier_urlpatterns = (
    [
        path("", views.supplier_home, name="home"),
        path("upload/", views.firmware_upload, name="upload"),
        path("import-metadata/", views.metadata_import, name="metadata_import"),
    ],
    "supplier",
)
