"""Background jobs of stock. Each is safe to run more than once: it re-reads state under a lock first."""

from django.tasks import task


@task()
def refill_quarantined_orders(order_ids: list[int]) -> dict:
    """Unpaid orders that held keys of a batch just quarantined: refilled from other stock, or closed."""
    from kameng.orders.held_stock import order_refill_held_keys

    outcomes: dict[str, int] = {}
    for order_id in order_ids:
        outcome = order_refill_held_keys(order_id=order_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
