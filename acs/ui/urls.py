"""Device pages, mounted under /devices/ (namespace ``devices``)."""

from django.urls import path

from acs.ui import views

app_name = "devices"

urlpatterns = [
    path("", views.DeviceListView.as_view(), name="list"),
    path("searches/", views.save_search, name="save_search"),
    path("searches/<int:pk>/delete/", views.delete_search, name="delete_search"),
    path("<int:pk>/", views.DeviceView.as_view(), name="device"),
    path("<int:pk>/live.json", views.live_json, name="live"),
    path("<int:pk>/factory-reset/", views.factory_reset_confirm, name="factory_reset"),
    path("<int:pk>/actions/<slug:action>/", views.device_action, name="action"),
    path("<int:pk>/tasks/<int:task_pk>/<slug:op>/", views.task_action, name="task_action"),
]
