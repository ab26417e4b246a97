"""The money a run commits while it runs: reservations before each call, real usage after,
and what a run's files say was spent so far.

Prices come from the backend (Backend.price), never from another provider's table. The
cap holds when a provider misbehaves: an answer's usage is checked at the boundary
(harness.calls.boundary: a paid answer is never charged below our own count, an absent or
implausible count is replaced by ours), and a call that failed after it reached the
provider (a timeout, a dropped connection, a 5xx) is charged at its reservation, since it
may have been billed. An answer we could not read (MalformedResponse) is not charged."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from backends.base import Backend, BackendError, ChatRequest, Completion, ModelPrice
from harness.calls import boundary
from harness.store.records import CrossRecord, JudgeVerdict, ResponseRecord
from harness.store.run_files import State

# Prompts are counted with tiktoken as OpenAI counts them; the margin covers providers that
# count a little differently, so a reservation stays an upper bound.
PROMPT_MARGIN = 1.1
DEFAULT_MAX_TOKENS = 4096  # a request without max_tokens is reserved at this many


class Pricer:
    """Costs in USD from a backend's prices; None where a model is unpriced."""

    def __init__(self, price: Callable[[str], ModelPrice | None]):
        self._price = price

    @classmethod
    def of(cls, backend: type[Backend] | Backend) -> Pricer:
        return cls(backend.price)

    def priced(self, model: str) -> bool:
        return self._price(model) is not None

    def inference(self, prompt_tokens: int, completion_tokens: int, model: str) -> float | None:
        p = self._price(model)
        return None if p is None else (prompt_tokens * p.input + completion_tokens * p.output) / 1_000_000

    def training(self, tokens_per_epoch: int, epochs: int, model: str) -> float | None:
        p = self._price(model)
        return None if p is None or p.training is None else tokens_per_epoch * epochs * p.training / 1_000_000


UNPRICED = Pricer(lambda model: None)  # a backend that cannot be loaded any more: nothing is known


def may_be_billed(error: BackendError) -> bool:
    """Whether a failed call may have been billed: it reached the provider and was lost or
    failed there (a timeout, a dropped connection, a 5xx); not one refused before any work
    (a 4xx, a 429, a connection refused)."""
    return (error.status is None and error.retryable) or (error.status or 0) >= 500


class Ledger:
    """The money a run has committed: what it spent (usage priced by the backend) plus a
    reservation for every call in flight. A call starts only if its reservation (its prompt
    counted, its completion at max_tokens) fits under the cap with everything committed, so
    concurrent calls cannot pass the cap together. `paid` is asked at each call: a backend
    may discover that it is talking to our simulator, and simulated calls cost nothing.
    `on_lost(usd)` is told of each failed call charged at its reservation, to keep it."""

    def __init__(
        self,
        cap: float,
        pricer: Pricer,
        spent: float = 0.0,
        paid: Callable[[], bool] = lambda: True,
        on_lost: Callable[[float], None] = lambda usd: None,
    ):
        self.cap = cap
        self.pricer = pricer
        self.spent = spent
        self.paid = paid
        self.on_lost = on_lost
        self.refused: str | None = None  # why a call was refused, once one was
        self._reserved: dict[int, float] = {}
        self._prompts: dict[int, int] = {}  # each paid call's prompt, counted at reservation
        self._next = 0

    @property
    def committed(self) -> float:
        return self.spent + sum(self._reserved.values())

    def estimate(self, request: ChatRequest, prompt: int | None = None) -> float:
        prompt = boundary.count_prompt(request) if prompt is None else prompt
        completion = request.max_tokens if request.max_tokens is not None else DEFAULT_MAX_TOKENS
        cost = self.pricer.inference(math.ceil(prompt * PROMPT_MARGIN), completion, request.model)
        return cost or 0.0  # unpriced (run with --allow-unpriced): nothing to reserve

    def reserve(self, request: ChatRequest) -> int | None:
        """A ticket for the call, or None when it must not start (over the cap)."""
        paid = self.paid()
        prompt = boundary.count_prompt(request) if paid else None
        estimate = self.estimate(request, prompt) if paid else 0.0
        if estimate and self.committed + estimate > self.cap:
            self.refused = (
                f"spend ${self.spent:.4f} so far, ${self.committed - self.spent:.4f} in flight "
                f"and ${estimate:.4f} for the next call would exceed --max-cost ${self.cap:.4g}"
            )
            return None
        self._next += 1
        self._reserved[self._next] = estimate
        if prompt is not None:
            self._prompts[self._next] = prompt
        return self._next

    def charge(self, ticket: int, request: ChatRequest, completion: Completion) -> boundary.Usage:
        """Settle a call that answered, at its checked usage (see boundary.checked_usage): a
        paid call is never charged below our own count of what was sent and got."""
        prompt = self._prompts.pop(ticket, None)
        used = boundary.checked_usage(request, completion, counted_prompt=prompt, exact=prompt is not None)
        self.settle(ticket, request.model, used.prompt, used.completion)
        return used

    def settle(self, ticket: int, model: str, prompt_tokens: int, completion_tokens: int) -> None:
        """Replace the call's reservation by what it really cost."""
        self._reserved.pop(ticket, None)
        self._prompts.pop(ticket, None)
        if self.paid():
            self.spent += self.pricer.inference(prompt_tokens, completion_tokens, model) or 0.0

    def failed(self, ticket: int, error: BackendError) -> None:
        """The call failed: free its reservation, or keep it as spent if it may be billed."""
        reserved = self._reserved.pop(ticket, 0.0)
        self._prompts.pop(ticket, None)
        if reserved and self.paid() and may_be_billed(error):
            self.spent += reserved
            self.on_lost(reserved)


def _usage(
    records: Iterable[ResponseRecord], verdicts: Iterable[JudgeVerdict], cross: Iterable[CrossRecord] = ()
) -> list[tuple[str, int, int]]:
    """(model, prompt tokens, completion tokens) of every answer, judge verdict and cross-prediction."""
    return (
        [(r.model, r.prompt_tokens, r.completion_tokens) for r in records]
        + [(v.judge_model, v.prompt_tokens, v.completion_tokens) for v in verdicts]
        + [(c.model, c.prompt_tokens, c.completion_tokens) for c in cross]
    )


def spent_of(
    state: State,
    records: Iterable[ResponseRecord],
    pricer: Pricer,
    verdicts: Iterable[JudgeVerdict] = (),
    cross: Iterable[CrossRecord] = (),
) -> float:
    """Estimated spend so far: training (from the jobs' trained tokens), calls that failed
    after they were sent (at their reservations), and every answer's, judge verdict's and
    cross-prediction's usage priced by the backend. Unknown prices count as 0 here (the plan
    refused them unless --allow-unpriced was given); `unpriced_of` names them."""
    total = (state.training_cost or 0.0) + state.lost_calls_cost
    for model, prompt, completion in _usage(records, verdicts, cross):
        total += pricer.inference(prompt, completion, model) or 0.0
    return total


def unpriced_of(
    records: Iterable[ResponseRecord],
    pricer: Pricer,
    verdicts: Iterable[JudgeVerdict] = (),
    cross: Iterable[CrossRecord] = (),
) -> list[str]:
    """The models in a run's records that the backend cannot price (counted as 0 by spent_of)."""
    return sorted({m for m, _, _ in _usage(records, verdicts, cross) if not pricer.priced(m)})
