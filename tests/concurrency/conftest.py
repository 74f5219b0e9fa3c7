import threading

import pytest
from django.db import connections

# The fake Alipay and WeChat Pay servers, for the gateway races.
from tests.payments.conftest import (  # noqa: F401
    alipay_env,
    alipay_keys,
    fake_alipay,
    fake_wechat,
    wechat_env,
    wechat_keys,
)


def race(n: int, fn):
    """Run fn(i) in n threads released at once, each on its own database connection."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:  # the outcome is what the test checks
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.fixture
def racer():
    return race
