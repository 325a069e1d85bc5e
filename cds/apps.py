from django.apps import AppConfig


class CdsConfig(AppConfig):
    name = "cds"
    verbose_name = "CDS storage"

    def ready(self) -> None:
        from cds.signals import connect_signals

        connect_signals()
