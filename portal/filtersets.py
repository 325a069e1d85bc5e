import django_filters
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q

from portal.choices import AuditKind
from portal.models import AuditEvent


class RestrictedFilterSet(django_filters.FilterSet):
    """A FilterSet whose model choices (manufacturer, device class, ...) are the rows the request's
    user may view: no filter dropdown lists another tenant's objects. The UI's list views and DRF's
    filter backend both pass `request`."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        user = getattr(request, "user", None)
        for f in self.filters.values():
            choices = getattr(f, "queryset", None)  # model-choice filters only
            if hasattr(choices, "restrict"):  # a restricted QuerySet or its manager
                f.queryset = choices.restrict(user, "view")


class AuditEventFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    kind = django_filters.MultipleChoiceFilter(choices=AuditKind.choices)
    actor = django_filters.ModelChoiceFilter(queryset=get_user_model().objects.order_by("username"))
    object_type = django_filters.ModelChoiceFilter(
        queryset=ContentType.objects.filter(
            app_label__in=["fus", "acs", "cds", "auth", "portal"]
        ).order_by("model")
    )
    since = django_filters.DateTimeFilter(field_name="timestamp", lookup_expr="gte", label="Since")
    until = django_filters.DateTimeFilter(field_name="timestamp", lookup_expr="lte", label="Until")

    class Meta:
        model = AuditEvent
        fields = ["q", "kind", "actor", "object_type", "since", "until"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(object_repr__icontains=value)
            | Q(message__icontains=value)
            | Q(actor_name__icontains=value)
        )
