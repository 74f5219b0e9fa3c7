"""The deadline tests buy, ask and move the clock exactly as the after-sales tests do: one set of helpers."""

from tests.aftersales.conftest import GOOD, advance, ask, bought  # noqa: F401  (fixtures and helpers)
