from django.apps import AppConfig


class AcsUiConfig(AppConfig):
    name = "acs.ui"
    label = "acs_ui"
    verbose_name = "ACS pages"

    def ready(self) -> None:
        from acs.ui import live

        live.connect_signals()
