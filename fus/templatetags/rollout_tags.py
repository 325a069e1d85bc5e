"""Template helpers of the rollout pages."""

from django import template

register = template.Library()


@register.filter
def fields_named(form, names: str):
    """The bound fields of `form` named in the space-separated `names`, in that order."""
    return [form[name] for name in names.split()]


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.inclusion_tag("fus/rollouts/_outcomes_card.html")
def rollout_outcomes(user, limit: int = 20):
    """The rollouts of the user's firmware with their outcomes (the supplier portal's card): the
    rows come through `restrict()`, so a manufacturer sees its own rollouts only."""
    from fus.models import Rollout
    from fus.rollouts.choices import RolloutStatus
    from fus.rollouts.views import with_counts

    rollouts = with_counts(
        Rollout.objects.restrict(user, "view")
        .exclude(status=RolloutStatus.DRAFT)
        .select_related("package")
        .order_by("-created", "-pk")
    )[:limit]
    return {"rollouts": rollouts}
