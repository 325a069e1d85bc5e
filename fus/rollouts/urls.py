"""Rollout pages, mounted at /rollouts/ (portal.urls)."""

from django.urls import path

from fus.rollouts import views

app_name = "rollouts"

urlpatterns = [
    path("", views.rollout_list, name="list"),
    path("new/", views.rollout_create, name="create"),
    path("<int:pk>/", views.rollout_detail, name="detail"),
    path("<int:pk>/edit/", views.rollout_edit, name="edit"),
    path("<int:pk>/live.json", views.rollout_live, name="live"),
    path("<int:pk>/devices/", views.rollout_devices, name="devices"),
    path("<int:pk>/<slug:action>/", views.rollout_action, name="action"),
]
