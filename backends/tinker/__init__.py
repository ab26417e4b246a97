"""The `tinker` backend: fine-tuning and sampling on Tinker or a server that speaks its API
(the official `tinker` client, from the optional extra `hello-harness[tinker]`, is imported
only when a job trains or a model answers)."""

from backends.tinker.backend import TinkerBackend

__all__ = ["TinkerBackend"]
