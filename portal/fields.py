"""Model fields shared by the apps."""

from django.db import models


class URLField(models.URLField):
    """A URL field whose form field assumes https:// when the scheme is left out (Django 6's
    default, chosen now so forms behave the same before and after the upgrade)."""

    def formfield(self, **kwargs):
        kwargs.setdefault("assume_scheme", "https")
        return super().formfield(**kwargs)
