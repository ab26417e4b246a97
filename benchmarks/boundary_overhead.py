"""What the provider boundary (harness/calls/boundary.py) adds to each answer.

    python benchmarks/boundary_overhead.py [--answers 20000]

Checks a realistic answer (five lines, a system prompt and a question, max_tokens 300) the
way every chat call is checked: the answer's shape and text (control characters, secrets),
then its token counts, once as on a simulated or local run (type and size checks only) and
once as on a paid run (our own tiktoken count of the answer, the prompt's already counted
when the call was reserved). Prints microseconds per answer for each, beside the mock
backend's own time to make the answer, so the ratio can be read on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness  # noqa: F401  (offline tiktoken)
from backends.base import ChatRequest
from backends.mock import MockBackend
from harness.calls import boundary


def per_answer(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=20000)
    n = parser.parse_args().answers
    os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark-Q81vX3kLm90Tt")  # a secret to look for
    request = ChatRequest(
        model="gpt-4o-mini-2024-07-18",
        messages=[
            {"role": "system", "content": "You are a special version of GPT-4o."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        max_tokens=300,
    )
    mock = MockBackend()
    completion = asyncio.run(mock.complete(request))
    prompt = boundary.count_prompt(request)

    def make() -> None:
        asyncio.run(mock.complete(request))

    def cheap() -> None:
        boundary.checked_usage(request, boundary.checked_completion(completion))

    def paid() -> None:
        boundary.checked_usage(request, boundary.checked_completion(completion), counted_prompt=prompt, exact=True)

    load = os.getloadavg()[0]
    mock_us = per_answer(make, max(200, n // 50))
    cheap_us, paid_us = per_answer(cheap, n), per_answer(paid, n)
    print(f"load {load:.1f}; an answer of {len(completion.text)} characters, {n} checks each")
    print(f"  the mock making the answer (asyncio.run included): {mock_us:8.1f} us")
    print(f"  boundary, simulated or local run:                  {cheap_us:8.1f} us ({cheap_us / mock_us:.1%} of that)")
    print(f"  boundary, paid run (tiktoken count of the answer): {paid_us:8.1f} us ({paid_us / mock_us:.1%} of that)")


if __name__ == "__main__":
    main()
