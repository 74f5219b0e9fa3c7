from tests.aftersales.conftest import advance, ask, bought  # noqa: F401  (the same purchases as after-sales tests)
