"""Checks on what a model returns, shared by ``rfbench.sample`` and ``reference_solution``.

A model whose output has the wrong shape can broadcast through a sampler's arithmetic and return
samples of the right shape; one that computes in float16 silently caps the accuracy of float64
sampling and of the reference. The first evaluation is inspected by a forward hook (no extra model
call, so the counted NFE is unchanged), the result's finiteness at the end.
"""

from __future__ import annotations

import warnings

import torch

from ..errors import InvalidInputError
from .base import FlowModel


def _name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


class FirstOutputCheck:
    """Context manager: checks the model's first output against its input.

    Wrong shape or a non-floating dtype raise :class:`InvalidInputError` naming the model; an output
    less precise than its input adds a note to ``notes``.
    """

    def __init__(self, model: FlowModel, what: str):
        self.model, self.what = model, what
        self.notes: list[str] = []
        self._handle = None

    def _hook(self, module, args, output) -> None:
        self._remove()
        x = args[0]
        name, pred = self.model.name, self.model.prediction
        if not isinstance(output, torch.Tensor):
            raise InvalidInputError(f"model {name!r} returned {type(output).__name__} in {self.what}; expected its "
                                    f"{pred} as a tensor of the input's shape {tuple(x.shape)}")
        if output.shape != x.shape:
            raise InvalidInputError(f"model {name!r} returned shape {tuple(output.shape)} for an input of shape "
                                    f"{tuple(x.shape)} in {self.what}; its {pred} must have the input's shape")
        if not output.is_floating_point():
            raise InvalidInputError(f"model {name!r} returned dtype {output.dtype} in {self.what}; expected a "
                                    f"floating-point {pred}")
        if x.is_floating_point() and torch.finfo(output.dtype).eps > torch.finfo(x.dtype).eps:
            self.notes.append(f"model {name!r} returns {_name(output.dtype)} for {_name(x.dtype)} input in "
                              f"{self.what}: its rounding (eps {torch.finfo(output.dtype).eps:.0e}) limits the "
                              "accuracy, whatever the NFE or tolerance")

    def _remove(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def __enter__(self) -> FirstOutputCheck:
        self._handle = self.model.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        self._remove()


def non_finite_note(model: FlowModel, x: torch.Tensor, what: str) -> str | None:
    """A one-line note when some of the samples ``x`` are NaN or infinite, else None."""
    bad = int((~torch.isfinite(x.reshape(len(x), -1)).all(1)).sum()) if x.numel() else 0
    return f"model {model.name!r}: {bad} of {len(x)} samples are not finite (NaN or inf) after {what}" if bad else None


def warn_notes(notes: list[str | None], stacklevel: int = 3) -> str:
    """Warn each note (a RuntimeWarning, by default at the caller's caller) and join them into one line."""
    notes = [n for n in notes if n]
    for note in notes:
        warnings.warn(note, RuntimeWarning, stacklevel=stacklevel)
    return "; ".join(notes)
