"""Deadlines that fall due with time: a registry that knows no domain, and the sweep that runs it.

Each domain says what falls due in its own `deadlines.py` (`DEADLINES = [Deadline(name, run), ...]`),
found in every installed app the first time the sweep runs, as the admin finds `admin.py`. Core only
calls them: it never imports a domain.

Each `run` is idempotent: it finds what is due, then for each case locks its rows (in the one lock
order, kameng.core.locks), re-checks that it is still due, and acts once. So two workers, or a worker
and the test clock, may sweep together without doing anything twice.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.utils.module_loading import module_has_submodule

logger = logging.getLogger(__name__)

HEAR = -1  # news from outside first: a payment the gateway took at the last second pays before its order expires
ACT = 0  # deadlines that change the state of things
DELIVER = 1  # deadlines that deliver what the others wrote (the SMS / email outbox): after them in a sweep


@dataclass(frozen=True)
class Deadline:
    name: str  # what the sweep reports: "orders_expired", "refunds_escalated"...
    run: Callable[[], int]  # does what is due; returns how many cases it acted on
    stage: int = ACT


_registry: dict[str, Deadline] = {}
_discovered = False


def register(*deadlines: Deadline) -> None:
    for deadline in deadlines:
        _registry[deadline.name] = deadline


def registered() -> list[Deadline]:
    """Every declared deadline, in sweep order: stage, then the order the apps are installed in."""
    _discover()
    return sorted(_registry.values(), key=lambda d: d.stage)


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    from importlib import import_module

    for config in apps.get_app_configs():
        if config.name != __package__ and module_has_submodule(config.module, "deadlines"):
            module = import_module(f"{config.name}.deadlines")
            register(*getattr(module, "DEADLINES", ()))
    _discovered = True


def process_due() -> dict[str, int]:
    done = {deadline.name: deadline.run() for deadline in registered()}
    if any(done.values()):
        logger.info("deadlines processed: %s", done)
    return done
