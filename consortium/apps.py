from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsortiumConfig(AppConfig):
    default = True
    name = "consortium"


class ConsortiumAdminConfig(admin_apps.AdminConfig):
    """Replaces `django.contrib.admin`: the admin site is the analysts' workplace."""

    default = False
    default_site = "consortium.admin_site.WorkplaceSite"
