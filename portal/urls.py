"""URL map: UI, supplier portal, REST API, admin. Later apps mount CWMP (/cwmp), QRC (/qrc) and the
download server (/firmware/) here."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from acs.homenet.urls import profile_urlpatterns
from acs.views import cwmp_endpoint
from fus import views_discovery
from fus.urls import supplier_urlpatterns
from portal import views
from portal.forms import LoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=LoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit/", views.audit_list, name="audit_list"),
    path("catalogue/", include("fus.urls")),
    path("devices/", include("acs.ui.urls")),
    path("rollouts/", include("fus.rollouts.urls")),
    path("cds/", include("cds.urls")),
    path("profiles/", include(profile_urlpatterns)),
    path("home-network/", include("acs.homenet.urls")),
    path("supplier/", include(supplier_urlpatterns)),
    path("api/", include("portal.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    # Discovery documents for boxes (public): TS 102 034 clause 9 and clause 5.2.13.
    path("dvb-ipi-fus-stub.dvb", views_discovery.fus_stub, name="fus_stub"),
    path("sdns/rms-fus-discovery.xml", views_discovery.sdns_record, name="sdns_rms_fus"),
    path("", include("fus.delivery.urls")),
    path("qrc", include("fus.qrc.urls")),
    path("cwmp", cwmp_endpoint, name="cwmp"),
    path("cwmp/", cwmp_endpoint),
]
