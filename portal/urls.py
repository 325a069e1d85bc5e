"""URL map: UI, supplier portal, REST API, admin. Later apps mount CWMP (/cwmp), QRC (/qrc) and the
download server (/firmware/) here."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
]
