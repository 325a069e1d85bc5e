from django.apps import AppConfig


class HomenetConfig(AppConfig):
    name = "acs.homenet"
    label = "homenet"
    verbose_name = "Home-network configurator"

    def ready(self) -> None:
        from acs.homenet.signals import connect_signals

        connect_signals()
