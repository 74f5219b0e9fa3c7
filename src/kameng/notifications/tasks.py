"""Background job: deliver the SMS / email outbox (enqueued by `notify` once its rows commit)."""

from django.tasks import task


@task()
def send_outbox() -> int:
    from .services import outbox_send_due

    return outbox_send_due()
