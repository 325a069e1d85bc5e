from django.apps import AppConfig


class FusConfig(AppConfig):
    name = "fus"
    verbose_name = "FUS (firmware)"
