"""Deadlines that fall due with time: swept by the worker, and at once when the test clock moves.

Each sweep is idempotent (it re-checks state under a row lock), so two workers, or a worker and
the test clock, may run it together without doing anything twice.
"""

import logging

logger = logging.getLogger(__name__)


def process_due() -> dict[str, int]:
    from kameng.aftersales.payouts import gateway_refunds_notify_due, payouts_reconcile
    from kameng.aftersales.services import refunds_close_unanswered
    from kameng.aftersales.supplier_claims import claims_accept_silent
    from kameng.catalog.supply import supply_query_due
    from kameng.notifications.services import outbox_send_due
    from kameng.orders.fulfilment import topups_send_due
    from kameng.orders.services import orders_expire_due
    from kameng.payments.checkout import payments_query_silent
    from kameng.payments.reconciliation import reconciliations_due
    from kameng.web.imports import imports_clean_abandoned

    done = {
        # Asked first: a payment the gateway took at the last second pays its order before it expires.
        "payments_recovered": payments_query_silent(),
        "orders_expired": orders_expire_due(),
        "refund_requests_closed": refunds_close_unanswered(),
        "supplier_silence_accepted": claims_accept_silent(),
        "payouts_reconciled": payouts_reconcile(),
        "gateway_refunds_notified": gateway_refunds_notify_due(),
        "outbox_sent": outbox_send_due(),
        "topups_sent": topups_send_due(),
        "topups_queried": supply_query_due(),
        "import_files_removed": imports_clean_abandoned(),
        "statements_reconciled": reconciliations_due(),
    }
    if any(done.values()):
        logger.info("deadlines processed: %s", done)
    return done
