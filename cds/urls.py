"""Help-desk CDS pages, mounted under /cds/ (namespace ``cds``)."""

from django.urls import path

from cds import views

app_name = "cds"

urlpatterns = [
    path("", views.search, name="search"),
    path("nearly-full/", views.nearly_full, name="nearly_full"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<int:pk>/", views.job, name="job"),
    path("devices/<int:pk>/cards/", views.cards, name="cards"),
    path("devices/<int:pk>/refresh/", views.refresh, name="refresh"),
    path("devices/<int:pk>/delete/", views.delete, name="delete"),
    path("devices/<int:pk>/resize/", views.resize, name="resize"),
    path("devices/<int:pk>/customer/", views.customer, name="customer"),
]
