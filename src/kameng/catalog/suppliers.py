"""Supplier adapters for top-ups. The sandbox supplier accepts every order and reports later.

A real supplier adapter implements `submit` against its upstream API and returns the upstream
reference; results come back through the supplier's callback (here: the sandbox result endpoint).
"""

import secrets
from typing import Protocol


class TopupSupplier(Protocol):
    def submit(self, *, order_no: str, account: str, face_value_fen: int, quantity: int) -> str: ...


class SandboxSupplier:
    def submit(self, *, order_no: str, account: str, face_value_fen: int, quantity: int) -> str:
        return "UP" + secrets.token_hex(8).upper()


def adapter_for(product) -> TopupSupplier:
    return SandboxSupplier()
