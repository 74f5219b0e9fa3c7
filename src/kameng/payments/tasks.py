"""Background jobs of the payments domain. Each is safe to run more than once."""

from django.tasks import task


@task()
def reconcile_run(run_id: int) -> None:
    """The daily reconciliation of one channel's statement (claimed by `reconciliations_due`)."""
    from .reconciliation import reconcile_claimed

    reconcile_claimed(run_id)
