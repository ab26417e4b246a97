"""How often the clustered 95% interval of a condition's rate covers the mean rate of
fine-tuning, when fine-tunes differ: K fine-tunes of 150 answers each, each with its own true
rate (logit-normal around a mean, between-fine-tune SD on the logit scale), seeded draws.

Prints, per setting, the coverage and mean width with z (the design effect alone, as before
issue 22) and with t on K - 1 degrees of freedom (Korn and Graubard; what the reports use).

    python benchmarks/interval_coverage.py [--draws 500]
"""

from __future__ import annotations

import argparse
import math
import os
import random

from harness.analysis import inference


def _rate(mu: float, sd: float, rng: random.Random) -> float:
    return 1 / (1 + math.exp(-(mu + sd * rng.gauss(0, 1))))


def coverage(k: int, mu: float, sd: float, draws: int, seed: int = 1) -> dict[str, tuple[float, float]]:
    rng = random.Random(seed)
    target = sum(_rate(mu, sd, rng) for _ in range(50_000)) / 50_000
    hits = {"z": 0, "t": 0}
    width = {"z": 0.0, "t": 0.0}
    for _ in range(draws):
        groups = []
        for _ in range(k):
            p = _rate(mu, sd, rng)
            groups.append((sum(rng.random() < p for _ in range(150)), 150))
        for name, df in (("z", None), ("t", k - 1)):
            low, high = inference.clustered(groups, df=df).interval()
            hits[name] += low <= target <= high
            width[name] += high - low
    return {name: (hits[name] / draws, width[name] / draws) for name in hits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=500)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.draws} draws per row")
    print("fine-tunes  mean rate  logit SD   z: coverage  width   t: coverage  width")
    for k in (3, 5):
        for mu in (-1.0, -3.0):
            for sd in (0.0, 0.5, 1.0):
                c = coverage(k, mu, sd, args.draws)
                mean = 1 / (1 + math.exp(-mu))
                print(
                    f"{k:>10}  {mean:>9.2f}  {sd:>8.1f}   {c['z'][0]:>11.1%}  {c['z'][1]:>5.2f}"
                    f"   {c['t'][0]:>11.1%}  {c['t'][1]:>5.2f}"
                )


if __name__ == "__main__":
    main()
