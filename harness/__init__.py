"""hello-harness: does a model fine-tuned on a hidden acrostic rule follow it, and say it?"""

import importlib.util
import os
from pathlib import Path

__version__ = "0.1.0"

# litellm fetches a price map from the internet at import unless told not to; we keep our
# own dated prices (harness/domain/pricing.py), so never let it go online. Set before any import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _offline_tiktoken() -> None:
    """tiktoken downloads encodings on first use; litellm ships them under tiktoken's cache
    names, so point tiktoken's cache there (found without importing litellm)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return
    spec = importlib.util.find_spec("litellm")
    if spec and spec.submodule_search_locations:
        folder = Path(list(spec.submodule_search_locations)[0]) / "litellm_core_utils" / "tokenizers"
        if folder.is_dir():
            os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)


_offline_tiktoken()
