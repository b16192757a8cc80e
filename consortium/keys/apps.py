from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "consortium.keys"
    label = "consortium_keys"
    verbose_name = "Consortium keys"
