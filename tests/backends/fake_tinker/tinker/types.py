"""The few types of the official client that a training worker builds."""

from __future__ import annotations


class TensorData:
    def __init__(self, data=None, dtype=None, shape=None):
        self.data, self.dtype, self.shape = list(data or []), dtype, shape

    def tolist(self) -> list:
        return list(self.data)


class ModelInput:
    def __init__(self, tokens: list[int]):
        self.tokens = tokens

    @classmethod
    def from_ints(cls, tokens: list[int]) -> ModelInput:
        return cls(list(tokens))


class Datum:
    def __init__(self, model_input: ModelInput, loss_fn_inputs: dict):
        self.model_input, self.loss_fn_inputs = model_input, loss_fn_inputs


class AdamParams:
    def __init__(self, learning_rate: float, **others):
        self.learning_rate, self.others = learning_rate, others
