"""Serializer base pieces shared by the apps' APIs."""


class RestrictedRelationsMixin:
    """Every related field (single or many) offers only the rows the request's user may view, so a
    supplier cannot point at another manufacturer's object: it is an unknown id, like a missing one.
    The REST twin of `portal.filtersets.RestrictedFilterSet`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is None:
            return
        for field in self.fields.values():
            relation = getattr(field, "child_relation", field)
            queryset = getattr(relation, "queryset", None)
            if hasattr(queryset, "restrict"):  # a restricted QuerySet or its manager
                relation.queryset = queryset.restrict(request.user, "view")
