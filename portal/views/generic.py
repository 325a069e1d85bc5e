"""Generic object views, configured per model rather than written again (NetBox's pattern).

Every queryset passes `restrict(user, action)`; every single object comes from
`get_for_user_or_404`. Views parse input and call one service; the service decides and audits.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.text import slugify
from django.views import View
from django_tables2 import RequestConfig

from portal.audit import history_for
from portal.permissions import can, get_for_user_or_404


def error_messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [
            f"{m}" if f == "__all__" else f"{f}: {m}"
            for f, ms in exc.message_dict.items()
            for m in ms
        ]
    return list(exc.messages)


@dataclass(frozen=True)
class BulkAction:
    """A bulk action of a list view: `run(obj, actor=user)` on each selected row the user may
    take `action` on."""

    name: str
    label: str
    action: str
    run: Callable
    danger: bool = False


class ObjectListView(LoginRequiredMixin, View):
    queryset: models.QuerySet
    filterset_class = None
    table_class = None
    template_name = "portal/object_list.html"
    bulk_actions: tuple[BulkAction, ...] = ()
    add_url_name: str | None = None
    per_page = 50

    def model(self):
        return self.queryset.model

    def get_queryset(self, request):
        return self.queryset.restrict(request.user, "view")

    def get_filterset(self, request, queryset):
        return self.filterset_class(request.GET or None, queryset=queryset, request=request)

    def get(self, request):
        filterset = self.get_filterset(request, self.get_queryset(request))
        queryset = (
            filterset.qs if filterset.is_bound and filterset.is_valid() else filterset.queryset
        )
        if request.GET.get("export") == "csv":
            return self.export_csv(queryset)
        table = self.table_class(queryset)
        RequestConfig(request, paginate={"per_page": self.per_page}).configure(table)
        model = self.model()
        actions = [a for a in self.bulk_actions if can(request.user, model, a.action)]
        return render(
            request,
            self.template_name,
            {
                "title": model._meta.verbose_name_plural.capitalize(),
                "model_name": model._meta.verbose_name,
                "table": table,
                "filter_form": filterset.form,
                "bulk_actions": actions,
                "add_url": reverse(self.add_url_name)
                if self.add_url_name and can(request.user, model, "add")
                else None,
                "export_query": _with_param(request, "export", "csv"),
            },
        )

    def post(self, request):
        model = self.model()
        action = next((a for a in self.bulk_actions if a.name == request.POST.get("action")), None)
        if action is None:
            messages.error(request, "Unknown bulk action.")
            return HttpResponseRedirect(request.get_full_path())
        pks = request.POST.getlist("pk")
        objects = list(self.queryset.restrict(request.user, action.action).filter(pk__in=pks))
        if not objects:
            messages.warning(
                request,
                f"No {model._meta.verbose_name_plural} selected that you may {action.label.lower()}.",
            )
        done, failed = 0, []
        for obj in objects:
            try:
                action.run(obj, actor=request.user)
                done += 1
            except ValidationError as exc:
                failed.append(f"{obj}: {'; '.join(error_messages(exc))}")
        if done:
            messages.success(
                request,
                f"{action.label}: {done} {model._meta.verbose_name_plural if done > 1 else model._meta.verbose_name}.",
            )
        for line in failed:
            messages.error(request, line)
        return HttpResponseRedirect(request.get_full_path())

    def export_csv(self, queryset) -> StreamingHttpResponse:
        table = self.table_class(queryset)
        columns = [c for c in table.columns if c.name != "pk"]

        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())

        def rows():
            yield writer.writerow([c.header for c in columns])
            for row in table.rows:
                yield writer.writerow([row.get_cell_value(c.name) for c in columns])

        name = slugify(self.model()._meta.verbose_name_plural)
        response = StreamingHttpResponse(rows(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response


def _with_param(request, key: str, value: str) -> str:
    query = request.GET.copy()
    query[key] = value
    return query.urlencode()


class ObjectView(LoginRequiredMixin, View):
    queryset: models.QuerySet
    template_name: str

    def get_extra_context(self, request, obj) -> dict:
        return {}

    def get(self, request, pk):
        obj = get_for_user_or_404(self.queryset, request.user, "view", pk=pk)
        model = self.queryset.model
        context = {
            "object": obj,
            "title": str(obj),
            "model_name": model._meta.verbose_name,
            "can_change": can(request.user, model, "change")
            and self.queryset.restrict(request.user, "change").filter(pk=obj.pk).exists(),
            "can_delete": can(request.user, model, "delete")
            and self.queryset.restrict(request.user, "delete").filter(pk=obj.pk).exists(),
            "history": history_for(obj)[:50]
            if request.user.has_perm("portal.view_auditevent")
            else None,
        }
        context.update(self.get_extra_context(request, obj))
        return render(request, self.template_name, context)


class ObjectEditView(LoginRequiredMixin, View):
    """Add (pk=None) or edit an object through `save_form(form, obj, user)`, a service call."""

    queryset: models.QuerySet
    form_class = None
    template_name = "portal/object_edit.html"

    def form_kwargs(self, request) -> dict:
        return {}

    def get_object(self, request, pk):
        if pk is None:
            if not can(request.user, self.queryset.model, "add"):
                raise PermissionDenied
            return self.queryset.model()
        return get_for_user_or_404(self.queryset, request.user, "change", pk=pk)

    def save_form(self, form, obj, user):
        raise NotImplementedError

    def render_form(self, request, form, obj):
        model = self.queryset.model
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "object": obj,
                "title": f"Edit {obj}" if obj.pk else f"Add {model._meta.verbose_name}",
                "model_name": model._meta.verbose_name,
                "cancel_url": obj.get_absolute_url() if obj.pk else reverse(_list_url(model)),
            },
        )

    def get(self, request, pk=None):
        obj = self.get_object(request, pk)
        return self.render_form(
            request, self.form_class(instance=obj, **self.form_kwargs(request)), obj
        )

    def post(self, request, pk=None):
        obj = self.get_object(request, pk)
        form = self.form_class(
            request.POST, request.FILES, instance=obj, **self.form_kwargs(request)
        )
        if form.is_valid():
            try:
                saved = self.save_form(form, obj, request.user)
            except ValidationError as exc:
                for message in error_messages(exc):
                    form.add_error(None, message)
            else:
                messages.success(request, f"Saved {saved._meta.verbose_name} {saved}.")
                return HttpResponseRedirect(saved.get_absolute_url())
        return self.render_form(request, form, obj)


def _list_url(model) -> str:
    """The list page of a model: `list_url_name` on the model, else `<app>:<model>_list`."""
    return (
        getattr(model, "list_url_name", None)
        or f"{model._meta.app_label}:{model._meta.model_name}_list"
    )


class ObjectDeleteView(LoginRequiredMixin, View):
    queryset: models.QuerySet
    template_name = "portal/object_delete.html"

    def delete_object(self, obj, user) -> None:
        obj.delete()

    def get(self, request, pk):
        obj = get_for_user_or_404(self.queryset, request.user, "delete", pk=pk)
        return render(
            request,
            self.template_name,
            {"object": obj, "title": f"Delete {obj}", "model_name": obj._meta.verbose_name},
        )

    def post(self, request, pk):
        obj = get_for_user_or_404(self.queryset, request.user, "delete", pk=pk)
        try:
            self.delete_object(obj, request.user)
        except ValidationError as exc:
            for message in error_messages(exc):
                messages.error(request, message)
            return HttpResponseRedirect(obj.get_absolute_url())
        except models.ProtectedError as exc:
            names = ", ".join(sorted({str(o) for o in exc.protected_objects})[:5])
            messages.error(request, f"{obj} is still used by: {names}.")
            return HttpResponseRedirect(obj.get_absolute_url())
        messages.success(request, f"Deleted {obj._meta.verbose_name} {obj}.")
        return HttpResponseRedirect(reverse(_list_url(obj._meta.model)))
