"""Carousel pages under /catalogue/carousels/ (namespace `fus`, included from fus/urls.py)."""

from django.urls import path

from fus.carousels import views

urlpatterns = [
    path("", views.CarouselListView.as_view(), name="carousel_list"),
    path("add/", views.CarouselEditView.as_view(), name="carousel_add"),
    path("<int:pk>/", views.CarouselView.as_view(), name="carousel"),
    path("<int:pk>/edit/", views.CarouselEditView.as_view(), name="carousel_edit"),
    path("<int:pk>/delete/", views.CarouselDeleteView.as_view(), name="carousel_delete"),
    path("<int:pk>/live.json", views.carousel_live, name="carousel_live"),
    path("<int:pk>/start/", views.carousel_start, name="carousel_start"),
    path("<int:pk>/stop/", views.carousel_stop, name="carousel_stop"),
]
