from django.tasks import task


@task()
def send_payout(payout_id: int) -> None:
    from .payouts import payout_send

    payout_send(payout_id=payout_id)
