"""The mock: a deterministic simulated provider (SIMULATED; never evidence about real models).
`provider` is the backend, `learning` what it learns from a training file and how good each
fine-tune is, `text` the words of its answers."""

from backends.mock.provider import MockBackend

__all__ = ["MockBackend"]
