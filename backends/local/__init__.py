"""The `local` backend: LoRA fine-tuning and inference of open-weights models on this machine
(torch, transformers and peft, from the optional extra `hello-harness[local]`, are imported
only when a job trains or a model answers)."""

from backends.local.backend import LocalBackend

__all__ = ["LocalBackend"]
