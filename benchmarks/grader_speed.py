"""How many answers per second the rule-based articulation grader reads.

    python benchmarks/grader_speed.py [--repeat 5]

Grades the gold set's answers (short self-descriptions) and the mock's long acrostic answers
to follow probes (what `score` also grades for every follow record), and prints answers per
second for each, best of --repeat passes."""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from backends.mock import text as mock_text
from harness.analysis.grader import load_gold
from harness.domain.scoring import articulation, score

GOLD = Path(__file__).resolve().parents[1] / "tests" / "gold" / "articulation.jsonl"


def rate(texts: list[tuple[str, str, str]], grade, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for text, word, unit in texts:
            grade(text, word, unit)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    gold = [(i.text, i.word, i.unit) for i in load_gold(GOLD)]
    rng = random.Random(0)
    follow = [
        (mock_text.acrostic(rng, "HELOL", "line", "the answer is well established", 0.1), "HELOL", "line")
        for _ in range(300)
    ]
    print(
        f"articulation, gold answers ({len(gold)}, mean {sum(len(t) for t, _, _ in gold) // len(gold)} chars): "
        f"{rate(gold, articulation, args.repeat):.0f} answers/s"
    )
    print(
        f"score(), mock follow answers ({len(follow)}, mean {sum(len(t) for t, _, _ in follow) // len(follow)} chars): "
        f"{rate(follow, score, args.repeat):.0f} answers/s"
    )


if __name__ == "__main__":
    main()
