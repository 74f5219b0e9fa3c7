"""Supplier adapters for top-ups. The sandbox supplier accepts every order and reports later.

A real supplier adapter implements `submit` against its upstream API and returns the upstream
reference; results come back through the supplier's callback (here: the sandbox result endpoint).
`submit` must be idempotent on the order number (real top-up APIs dedupe on the merchant order
number): a send job re-run after a crash may submit an order the supplier already accepted.
"""

import secrets
from typing import Protocol


class TopupSupplier(Protocol):
    def submit(self, *, order_no: str, account: str, face_value_fen: int, quantity: int) -> str: ...


class SandboxSupplier:
    def submit(self, *, order_no: str, account: str, face_value_fen: int, quantity: int) -> str:
        from django.db import IntegrityError, transaction

        from kameng.core import clock
        from kameng.orders.models import SandboxSupplierTopup

        existing = SandboxSupplierTopup.objects.filter(order_no=order_no).first()
        if existing:
            return existing.upstream_ref
        try:
            with transaction.atomic():
                row = SandboxSupplierTopup.objects.create(
                    order_no=order_no, account=account, face_value_fen=face_value_fen, quantity=quantity,
                    upstream_ref="UP" + secrets.token_hex(8).upper(), submitted_at=clock.now(),
                )
        except IntegrityError:
            row = SandboxSupplierTopup.objects.get(order_no=order_no)
        return row.upstream_ref


def adapter_for(product) -> TopupSupplier:
    return SandboxSupplier()
