"""Configurator pages: /profiles/ (namespace ``profiles``) and /home-network/ (``homenet``)."""

from django.urls import path

from acs.homenet import views

profile_urlpatterns = (
    [
        path("", views.profile_list, name="list"),
        path("new/", views.profile_edit, name="new"),
        path("<int:pk>/", views.profile_detail, name="detail"),
        path("<int:pk>/edit/", views.profile_edit, name="edit"),
    ],
    "profiles",
)

app_name = "homenet"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("live.json", views.dashboard_live, name="live"),
    path("profiles/<int:pk>/", views.profile_detail, name="profile"),
    path("devices/<int:pk>/", views.device, name="device"),
    path("devices/<int:pk>/apply/", views.apply, name="apply"),
    path("devices/<int:pk>/live.json", views.device_live, name="device_live"),
    path("devices/<int:pk>/variables/", views.variables, name="variables"),
]
