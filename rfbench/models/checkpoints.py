"""Moved to :mod:`rfbench.models.formats.rfbench` (issue 17); these names stay importable from here
while modules being moved in the same step still import them (remove once nothing does)."""

from .formats.rfbench import (FORMAT, VERSION, allow_unsafe_load, load_state, make_checkpoint,  # noqa: F401
                              read_checkpoint, validate_checkpoint)
