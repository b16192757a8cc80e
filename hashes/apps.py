from django.apps import AppConfig


class HashesConfig(AppConfig):
    name = "hashes"
    verbose_name = "Fingerprints"

    def ready(self) -> None:
        from hashes.services.hooks import on_batch_decided

        on_batch_decided(publish_when_approved)


def publish_when_approved(batch_id: int, decision: str) -> None:
    """An approved batch is published by a worker, after the deciding vote committed."""
    if decision == "approved":
        from hashes.tasks import release_publish_batch_task

        release_publish_batch_task.delay(batch_id)
