"""Request-scoped context for the audit log."""

from portal.audit import acting_as


class ActorMiddleware:
    """Attribute audit rows written while serving a request to that request's user and address."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with acting_as(request=request):
            return self.get_response(request)
