"""Model fields shared by the apps."""

from django.db import models


class URLField(models.URLField):
    """A URL field whose form field assumes https:// when the scheme is left out (Django 6's
    default, chosen now so forms behave the same before and after the upgrade)."""

    def formfield(self, **kwargs):
        kwargs.setdefault("assume_scheme", "https")
        return super().formfield(**kwargs)


class BytewiseCharField(models.CharField):
    """A CharField compared byte by byte (code-point order for UTF-8), whatever the database's
    default collation: ``COLLATE "C"`` on PostgreSQL, ``utf8mb4_bin`` on MySQL/MariaDB; SQLite's
    default (BINARY) already is. For ordering keys used in range queries, such as
    `fus.metadata.identifiers.serial_index_key`, where a locale collation would reorder them."""

    _COLLATIONS = {"postgresql": "C", "mysql": "utf8mb4_bin"}

    def db_parameters(self, connection):
        params = super().db_parameters(connection)
        params["collation"] = self.db_collation or self._COLLATIONS.get(connection.vendor)
        return params


class CodeChoicesCharField(models.CharField):
    """A CharField whose choices live in code only: adding a choice (an audit kind, a task state)
    changes no schema, so it needs no migration — and parallel work on different apps does not
    collide on one app's migration history. Values are still validated against the choices."""

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("choices", None)
        return name, path, args, kwargs
