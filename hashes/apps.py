from django.apps import AppConfig


class HashesConfig(AppConfig):
    name = "hashes"
    verbose_name = "Fingerprints"

    def ready(self) -> None:
        from hashes.services import hooks

        hooks.on_batch_decided(publish_when_approved)
        hooks.on_batch_decided(propagate_decision)
        hooks.on_batch_voting_opened(propagate_voting_opened)
        hooks.on_release_published(propagate_release)


# Listeners: each runs after the change committed and only queues a task.


def publish_when_approved(batch_id: int, decision: str) -> None:
    """An approved batch is published by a worker, after the deciding vote committed."""
    if decision == "approved":
        from hashes.tasks import release_publish_batch_task

        release_publish_batch_task.delay(batch_id)


def propagate_decision(batch_id: int, decision: str) -> None:
    from hashes.tasks import propagate_event_task

    propagate_event_task.delay("batch.decided", {"batch": batch_id, "decision": decision})


def propagate_voting_opened(batch_id: int) -> None:
    from hashes.tasks import propagate_event_task

    propagate_event_task.delay("batch.voting_opened", {"batch": batch_id})


def propagate_release(seq: int) -> None:
    from hashes.tasks import propagate_release_task

    propagate_release_task.delay(seq)
