"""litellm set up for the harness's chat calls: routing and the request's shape stay litellm's;
its per-call bookkeeping, which the harness does itself, is switched off.

The harness prices every call from the token counts it checked (harness.calls.boundary and
the budget ledger, with harness.domain.pricing's dated table) and records every answer in the
run directory. litellm would also, per call, price the answer from its own model map (its cost
calculator, about an eighth of a probe's CPU) and build and queue a logging payload for success
callbacks that nobody registered (about a sixteenth). Neither result is read anywhere.

- Logging: litellm's own switch for a call whose parent logs and bills it
  (`litellm._internal_context.internal_sub_call`) skips the success and failure handlers and
  their payloads for the calls made inside `priced_by_harness()`.
- Pricing: litellm has no switch for the calculator its response metadata calls on every
  answer; `configure` wraps `litellm.response_cost_calculator` so that it answers None (litellm's
  own "no cost known") for calls inside `priced_by_harness()` and prices every other call as
  before (another library using litellm in the same process is not affected).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

_PRICED_BY_HARNESS: contextvars.ContextVar[bool] = contextvars.ContextVar("harness_prices_this_call", default=False)
_GATE = "_harness_priced_gate"


def configure(litellm: Any) -> None:
    """Install the pricing gate (once per process; calling it again changes nothing)."""
    price = litellm.response_cost_calculator
    if getattr(price, _GATE, False):
        return

    def response_cost_calculator(*args: Any, **kwargs: Any) -> Any:
        if _PRICED_BY_HARNESS.get():
            return None
        return price(*args, **kwargs)

    setattr(response_cost_calculator, _GATE, True)
    response_cost_calculator.__wrapped__ = price  # type: ignore[attr-defined]
    litellm.response_cost_calculator = response_cost_calculator


@contextmanager
def priced_by_harness() -> Iterator[None]:
    """The litellm calls made inside are priced and logged by the harness, not by litellm.
    Context variables: concurrent calls in other tasks are not affected, and litellm's work on
    its thread pool sees them (it copies the context)."""
    token = _PRICED_BY_HARNESS.set(True)
    try:
        with _litellm_logging_off():
            yield
    finally:
        _PRICED_BY_HARNESS.reset(token)


def _litellm_logging_off() -> AbstractContextManager:
    """litellm's switch is private: a release without it costs the saving, never a call."""
    try:
        from litellm._internal_context import internal_sub_call
    except ImportError:
        return nullcontext()
    return internal_sub_call()
