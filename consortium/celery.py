"""The Celery application. Tasks are just another interface to the services (STYLE.md)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "consortium.settings")

app = Celery("consortium")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
