"""`/qrc`: the QRC SOAP endpoint and its WSDL (`/qrc?wsdl`), mounted once by portal.urls."""

from django.urls import path

from fus.qrc.views import qrc_endpoint

app_name = "qrc"

urlpatterns = [path("", qrc_endpoint, name="endpoint")]
