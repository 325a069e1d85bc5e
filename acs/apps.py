from django.apps import AppConfig


class AcsConfig(AppConfig):
    name = "acs"
    verbose_name = "RMS (TR-069 ACS)"
