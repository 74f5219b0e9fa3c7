"""Order snapshots stored once per product version, not once per order.

What the buyer saw and agreed to — the product page and its refund rules at that moment — used to be
copied onto every order (~2 KB each). Most orders of a product see the same page, so the content is
stored once as a `ProductSnapshot`, found by the SHA-256 of its canonical JSON (content-addressed: a
price change, a new description or new refund rules is new content, hence a new version, whoever
wrote the product and however), and each order points at its version. `Order.snapshot` still answers
the whole dict, with `captured_at` (the order's own moment), so readers (dossier, eligibility, rules at
purchase, exports) do not change.

Versions are immutable rows, so each process keeps the ones it has read (bounded), and the version of
the content a purchase needs is found without a query once known.
"""

import hashlib
import json

from django.db import IntegrityError, connection, transaction

from kameng.core import clock

_CACHE_LIMIT = 4096
_data_by_id: dict[int, dict] = {}
_id_by_digest: dict[str, int] = {}


def forget_cached_snapshots() -> None:
    """For tests that empty the tables between them; in service, versions are never deleted."""
    _data_by_id.clear()
    _id_by_digest.clear()


def _content(snapshot: dict) -> dict:
    return {key: value for key, value in snapshot.items() if key != "captured_at"}


def digest_of(snapshot: dict) -> str:
    canonical = json.dumps(_content(snapshot), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _remember(cache: dict, key, value) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()  # rare; versions are few, and a miss is one indexed read
    cache[key] = value


def version_for(snapshot: dict, *, product_id: int) -> int:
    """The id of the version holding this content, created if new (inside the caller's transaction)."""
    from .models import ProductSnapshot

    digest = digest_of(snapshot)
    known = _id_by_digest.get(digest)
    if known is not None:
        return known
    found = ProductSnapshot.objects.filter(digest=digest).values_list("id", flat=True).first()
    if found is None:
        try:
            with transaction.atomic():
                found = ProductSnapshot.objects.create(digest=digest, product_id=product_id, data=_content(snapshot),
                                                       created_at=clock.now()).id
        except IntegrityError:  # the same content stored by a concurrent purchase
            found = ProductSnapshot.objects.get(digest=digest).id
    # Remembered only once committed: a rolled-back version must not be handed to the next purchase.
    if connection.in_atomic_block:
        transaction.on_commit(lambda: _remember(_id_by_digest, digest, found))
    else:
        _remember(_id_by_digest, digest, found)
    return found


def snapshot_data(version_id: int | None) -> dict:
    """The stored content of a version (a process-wide copy: versions never change)."""
    from .models import ProductSnapshot

    if version_id is None:
        return {}
    data = _data_by_id.get(version_id)
    if data is None:
        data = ProductSnapshot.objects.filter(id=version_id).values_list("data", flat=True).first() or {}
        if connection.in_atomic_block:  # perhaps this transaction's own version: kept once it commits
            transaction.on_commit(lambda: _remember(_data_by_id, version_id, data))
        else:
            _remember(_data_by_id, version_id, data)
    return data


def content_of(snapshot: dict) -> dict:
    return _content(snapshot)


def snapshot_of(version_id: int | None, created_at) -> dict:
    """An order's snapshot from its plain values (version id and created_at), for readers of `.values()`
    rows; a fresh copy each time. `Order.snapshot` answers the same for a model instance."""
    import copy

    from kameng.core.times import iso_beijing

    captured = iso_beijing(created_at) if created_at else None
    return copy.deepcopy({**snapshot_data(version_id), "captured_at": captured})
