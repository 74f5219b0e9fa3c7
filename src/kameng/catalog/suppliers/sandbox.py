"""The sandbox supplier: accepts every order and learns its result from the sandbox result route.

One implementation of the `Supplier` interface beside the real ones. It keeps its own book of the
orders it accepted (one per merchant order number, as a real source dedupes), so a send job re-run
after a crash never tops up twice. Its results come through `POST /sandbox/topups/{order_no}/result`
(sandbox mode only); asked about an order, it says `processing` while it has one.
"""

import secrets
from collections.abc import Mapping

from .base import Callback, CallbackRefused, Supplier, SupplyOrder, SupplyResult, SupplyState

NAME = "sandbox"
BALANCE_FEN = 100_000_000  # the sandbox never runs dry


class SandboxSupplier(Supplier):
    name = NAME

    def submit(self, order: SupplyOrder) -> SupplyResult:
        from django.db import IntegrityError, transaction

        from kameng.core import clock
        from kameng.orders.models import SandboxSupplierTopup

        row = SandboxSupplierTopup.objects.filter(order_no=order.order_no).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = SandboxSupplierTopup.objects.create(
                        order_no=order.order_no, account=order.account, face_value_fen=order.face_value_fen,
                        quantity=order.quantity, upstream_ref="UP" + secrets.token_hex(8).upper(),
                        submitted_at=clock.now(),
                    )
            except IntegrityError:
                row = SandboxSupplierTopup.objects.get(order_no=order.order_no)
        return SupplyResult(order_no=order.order_no, state=SupplyState.PROCESSING, supplier_ref=row.upstream_ref)

    def query(self, order_no: str) -> SupplyResult:
        from kameng.orders.models import SandboxSupplierTopup

        row = SandboxSupplierTopup.objects.filter(order_no=order_no).first()
        if row is None:
            return SupplyResult(order_no=order_no, state=SupplyState.NOT_FOUND)
        return SupplyResult(order_no=order_no, state=SupplyState.PROCESSING, supplier_ref=row.upstream_ref)

    def balance_fen(self) -> int:
        return BALANCE_FEN

    def parse_callback(self, *, headers: Mapping[str, str], body: bytes) -> Callback:
        raise CallbackRefused("SOURCE_NOT_FOUND", "the sandbox reports through its own route")
