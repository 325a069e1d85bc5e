from django.apps import AppConfig, apps
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


def _sqlite_pragmas(sender, connection, **kwargs) -> None:
    """Web, worker and beat share one SQLite file: WAL lets readers run beside the writer."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL;")
            cursor.execute("PRAGMA synchronous=NORMAL;")


def _sync_roles_after_migrate(sender, **kwargs) -> None:
    # Permissions of later apps are only created by their own post_migrate: create them all first.
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    from portal.roles import sync_roles

    for app_config in apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0, using=kwargs.get("using", "default"))
        create_permissions(app_config, verbosity=0, using=kwargs.get("using", "default"))
    sync_roles()


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from portal import audit  # noqa: F401  (connects the change-log and login handlers)

        connection_created.connect(_sqlite_pragmas, dispatch_uid="portal_sqlite_pragmas")
        post_migrate.connect(_sync_roles_after_migrate, sender=self, dispatch_uid="portal_roles")
