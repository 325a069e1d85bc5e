"""Carousel pages (NOC): list with live state, form, detail polled every 2 s, start/stop, delete.

Every queryset passes `restrict()`; every change goes through `fus.services.carousels`
(`save_carousel`, `start_carousel`, `stop_carousel`, `delete_carousel`), which validate and audit.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from fus.carousels.forms import CarouselFilterSet, CarouselForm
from fus.carousels.tables import CarouselTable, live_state
from fus.models import Carousel
from fus.services import carousels as service
from portal.permissions import can, get_for_user_or_404
from portal.views.generic import (
    BulkAction,
    ObjectDeleteView,
    ObjectEditView,
    ObjectListView,
    ObjectView,
    error_messages,
)

CAROUSEL_QS = Carousel.objects.select_related("run")


class _MayView:
    """A user without the view permission gets 403 (not an empty list that looks like none)."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not can(request.user, Carousel, "view"):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class CarouselListView(_MayView, ObjectListView):
    queryset = CAROUSEL_QS
    filterset_class = CarouselFilterSet
    table_class = CarouselTable
    add_url_name = "fus:carousel_add"
    bulk_actions = (
        BulkAction("start", "Start", "operate", service.start_carousel),
        BulkAction("stop", "Stop", "operate", service.stop_carousel),
        BulkAction("delete", "Delete", "delete", service.delete_carousel, danger=True),
    )


class CarouselView(ObjectView):
    queryset = CAROUSEL_QS.prefetch_related("packages__manufacturer")
    template_name = "fus/carousels/detail.html"

    def get_extra_context(self, request, obj):
        return {
            "state": live_state(obj),
            "can_operate": Carousel.objects.restrict(request.user, "operate")
            .filter(pk=obj.pk)
            .exists(),
            "packages": obj.packages.all(),
        }


class CarouselEditView(ObjectEditView):
    queryset = Carousel.objects.all()
    form_class = CarouselForm
    template_name = "fus/carousels/form.html"

    def get(self, request, pk=None):
        obj = self.get_object(request, pk)
        return self.render_form(request, self.form_class(instance=obj, user=request.user), obj)

    def post(self, request, pk=None):
        obj = self.get_object(request, pk)
        form = self.form_class(request.POST, instance=obj, user=request.user)
        if form.is_valid():
            try:
                saved = self.save_form(form, obj, request.user)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, f"Saved carousel {saved}.")
                return HttpResponseRedirect(saved.get_absolute_url())
        return self.render_form(request, form, obj)

    def render_form(self, request, form, obj):
        response = super().render_form(request, form, obj)
        if form.is_bound and form.errors:
            response.status_code = 400
        return response

    def save_form(self, form, obj, user):
        carousel = form.save(commit=False)
        return service.save_carousel(carousel, packages=form.cleaned_data["packages"], actor=user)


def _add_errors(form, exc: ValidationError) -> None:
    """The service's errors, on the field they name when the form has it."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        for message in error_messages(exc):
            form.add_error(None, message)


class CarouselDeleteView(ObjectDeleteView):
    queryset = Carousel.objects.all()

    def delete_object(self, obj, user):
        service.delete_carousel(obj, actor=user)


@login_required
@require_GET
def carousel_live(request, pk: int):
    """The live state as JSON (the detail page polls it every 2 s)."""
    carousel = get_for_user_or_404(CAROUSEL_QS, request.user, "view", pk=pk)
    response = JsonResponse(live_state(carousel))
    response["Cache-Control"] = "no-store"
    return response


def _control(service_call, verb: str):
    @login_required
    @require_POST
    def view(request, pk: int):
        carousel = get_for_user_or_404(Carousel, request.user, "operate", pk=pk)
        try:
            service_call(carousel, actor=request.user)
        except ValidationError as exc:
            for message in error_messages(exc):
                messages.error(request, message)
        else:
            messages.success(request, f"Carousel {carousel} {verb}.")
        return HttpResponseRedirect(carousel.get_absolute_url())

    return view


carousel_start = _control(service.start_carousel, "started")
carousel_stop = _control(service.stop_carousel, "stopping (the loop ends at its next heartbeat)")
