"""Goods sources (货源): where top-ups and card keys bought on demand come from.

`base` is the interface, `protocol` the signed-HTTP protocol (KSP/1, docs/supplier-protocol.md),
`http` the adapter for a configured source, `sandbox` the sandbox supplier. `adapter_for` picks the
adapter of a product (its configured source, else the sandbox in sandbox mode).
"""

from django.conf import settings

from .base import NotConfigured, Supplier
from .sandbox import SandboxSupplier

__all__ = ["NotConfigured", "SandboxSupplier", "Supplier", "adapter_for", "adapter_for_source"]


def adapter_for_source(source, *, sending: bool = False) -> Supplier:
    """The adapter of a configured source (a `SupplierSource` row), or the sandbox for None.

    Only new orders need an enabled source (and the sandbox mode for the sandbox): an order already
    placed is still asked about, and its callback still taken, after the source is switched off.
    """
    if source is None:
        if sending and not settings.KAMENG_SANDBOX:
            raise NotConfigured("no source is configured for this product and the sandbox is off")
        return SandboxSupplier()
    if sending and not source.is_active:
        raise NotConfigured(f"the source {source.id} is disabled")
    from .http import HttpSupplier

    return HttpSupplier(source.connection_settings())


def adapter_for(product) -> Supplier:
    """The adapter a new order of this product is sent to."""
    return adapter_for_source(product.source, sending=True)
