"""DRF permissions backed by restrict(): model permissions for the action, rows scoped by tenant."""

from rest_framework.permissions import BasePermission

from portal.permissions import can

ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


class RestrictedObjectPermissions(BasePermission):
    """Authenticated users only; the method's action must be allowed on the viewset's model.

    Object-level scoping is done by the queryset (`RestrictedViewSet.get_queryset`), so another
    tenant's object is a 404 rather than a 403.
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        model = getattr(getattr(view, "queryset", None), "model", None)
        if model is None:
            return True
        action = getattr(view, "restrict_action_override", None) or ACTIONS.get(
            request.method, "view"
        )
        return can(request.user, model, action)
