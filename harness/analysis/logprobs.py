"""The log-probability rows of a summary (harness.calls.logprobs made the records)."""

from __future__ import annotations

import math

from harness.store.records import LogprobRecord
from harness.store.summary import LogprobRow


def _probabilities(record: LogprobRecord, word: str) -> tuple[float, dict[str, float] | None]:
    """(the word's probability, each option's) from one record."""
    if record.options:  # normalised over the options: the labels as the whole reply
        top = max(record.logprobs)
        weights = [math.exp(lp - top) for lp in record.logprobs]
        total = sum(weights)
        by_option = {o: w / total for o, w in zip(record.options, weights)}
        return by_option.get(word.upper(), 0.0), by_option
    return min(1.0, sum(math.exp(lp) for lp in record.logprobs)), None


def logprob_rows(records: list[LogprobRecord], word: str, conditions: list[str]) -> list[LogprobRow]:
    rows = []
    ok = [r for r in records if r.ok and len(r.logprobs) == len(r.continuations)]
    for condition in conditions:
        for probe in dict.fromkeys(r.probe for r in ok if r.condition == condition):
            mine = [r for r in ok if r.condition == condition and r.probe == probe]
            found = [_probabilities(r, word) for r in mine]
            p = [x for x, _ in found]
            options = None
            if all(o is not None for _, o in found):
                names = list(found[0][1] or {})
                options = {n: round(sum((o or {}).get(n, 0.0) for _, o in found) / len(found), 4) for n in names}
            rows.append(
                LogprobRow(
                    condition=condition,
                    probe=probe,
                    kind=mine[0].kind,
                    scored=len(mine),
                    p_word=round(sum(p) / len(p), 4),
                    p_low=round(min(p), 4),
                    p_high=round(max(p), 4),
                    options=options,
                )
            )
    return rows
