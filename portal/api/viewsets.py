"""Base viewset: every queryset through restrict(), with the action the HTTP method implies."""

from rest_framework import viewsets

from portal.api.permissions import ACTIONS


class RestrictedViewSetMixin:
    """`restrict_actions` maps extra @action names to a permission action (e.g. approve)."""

    restrict_actions: dict[str, str] = {}

    @property
    def restrict_action_override(self):
        return self.restrict_actions.get(getattr(self, "action", None))

    def get_queryset(self):
        action = self.restrict_action_override or ACTIONS.get(self.request.method, "view")
        return super().get_queryset().restrict(self.request.user, action)


class RestrictedModelViewSet(RestrictedViewSetMixin, viewsets.ModelViewSet):
    pass


class RestrictedReadOnlyViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass
