"""The money a run commits while it runs: reservations before each call, real usage after,
and what a run's files say was spent so far."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from backends.base import ChatRequest
from harness.domain import dataset, pricing
from harness.store.records import CrossRecord, JudgeVerdict, ResponseRecord
from harness.store.run_files import State

# Prompts are counted with tiktoken as OpenAI counts them; the margin covers providers that
# count a little differently, so a reservation stays an upper bound.
PROMPT_MARGIN = 1.1
DEFAULT_MAX_TOKENS = 4096  # a request without max_tokens is reserved at this many


class Ledger:
    """The money a run has committed: what it spent (real usage priced by our table) plus a
    reservation for every call in flight. A call starts only if its reservation (its prompt
    counted, its completion at max_tokens) fits under the cap with everything committed, so
    concurrent calls cannot pass the cap together. `paid` is asked at each call: a backend
    may discover that it is talking to our simulator, and simulated calls cost nothing."""

    def __init__(self, cap: float, spent: float = 0.0, paid: Callable[[], bool] = lambda: True):
        self.cap = cap
        self.spent = spent
        self.paid = paid
        self.refused: str | None = None  # why a call was refused, once one was
        self._reserved: dict[int, float] = {}
        self._next = 0

    @property
    def committed(self) -> float:
        return self.spent + sum(self._reserved.values())

    @staticmethod
    def estimate(request: ChatRequest) -> float:
        prompt = dataset.count_tokens([{"messages": request.messages}], request.model)[0]
        completion = request.max_tokens if request.max_tokens is not None else DEFAULT_MAX_TOKENS
        cost = pricing.inference_cost(math.ceil(prompt * PROMPT_MARGIN), completion, request.model)
        return cost or 0.0  # unpriced (run with --allow-unpriced): nothing to reserve

    def reserve(self, request: ChatRequest) -> int | None:
        """A ticket for the call, or None when it must not start (over the cap)."""
        estimate = self.estimate(request) if self.paid() else 0.0
        if estimate and self.committed + estimate > self.cap:
            self.refused = (f"spend ${self.spent:.4f} so far, ${self.committed - self.spent:.4f} in flight "
                            f"and ${estimate:.4f} for the next call would exceed --max-cost ${self.cap:.4g}")
            return None
        self._next += 1
        self._reserved[self._next] = estimate
        return self._next

    def settle(self, ticket: int, model: str, prompt_tokens: int, completion_tokens: int) -> None:
        """Replace the call's reservation by what it really cost."""
        self._reserved.pop(ticket, None)
        if self.paid():
            self.spent += pricing.inference_cost(prompt_tokens, completion_tokens, model) or 0.0


def _usage(records: Iterable[ResponseRecord], verdicts: Iterable[JudgeVerdict],
           cross: Iterable[CrossRecord] = ()) -> list[tuple[str, int, int]]:
    """(model, prompt tokens, completion tokens) of every answer, judge verdict and cross-prediction."""
    return [(r.model, r.prompt_tokens, r.completion_tokens) for r in records] + \
        [(v.judge_model, v.prompt_tokens, v.completion_tokens) for v in verdicts] + \
        [(c.model, c.prompt_tokens, c.completion_tokens) for c in cross]


def spent_of(state: State, records: Iterable[ResponseRecord], verdicts: Iterable[JudgeVerdict] = (),
             cross: Iterable[CrossRecord] = ()) -> float:
    """Estimated spend so far: training (from the job's trained tokens) plus every answer's
    and every judge verdict's usage priced by our table. Unknown prices count as 0 here
    (the plan refused them unless --allow-unpriced was given); `unpriced_of` names them."""
    total = state.training_cost or 0.0
    for model, prompt, completion in _usage(records, verdicts, cross):
        total += pricing.inference_cost(prompt, completion, model) or 0.0
    return total


def unpriced_of(records: Iterable[ResponseRecord], verdicts: Iterable[JudgeVerdict] = (),
                cross: Iterable[CrossRecord] = ()) -> list[str]:
    """The models in a run's records that our price table does not know (their spend is
    counted as 0 by spent_of)."""
    return sorted({m for m, _, _ in _usage(records, verdicts, cross) if not pricing.is_priced(m)})
