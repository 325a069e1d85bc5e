"""The FUS's public endpoints for boxes (no login): downloads under /firmware/ and the report
endpoint /fus/report. Mounted at the root by portal.urls; the QRC (/qrc) is `fus.qrc.urls`."""

from django.urls import path

from fus.delivery import reports, views

app_name = "fus-delivery"

urlpatterns = [
    path("firmware/-/done", views.download_done, name="download_done"),
    # The storage layout (firmware/<manufacturer>/<package>/<file>), as URLs built from a file's
    # stored name look; the same view, the manufacturer must match.
    path(
        "firmware/<int:manufacturer_id>/<int:package_id>/<str:file_name>",
        views.firmware_download,
        name="download_stored",
    ),
    path(
        "firmware/<int:package_id>/<path:file_name>",
        views.firmware_download,
        name="download",
    ),
    path("fus/report", reports.report_endpoint, name="report"),
]
