"""The ``inversion_rmse`` cell metric: how well a sampler's inversion (data -> noise) undoes it.

For a cell whose sampler supports inversion (:data:`rfbench.samplers.rf_solver.INVERTIBLE`), the
cell's samples are inverted back to noise with the same sampler, NFE and (reversed) grid:

* ``inversion_rmse``: per-sample RMSE between the recovered noise and the noise the samples were
  drawn from, averaged (0 for an exact ODE solve in both directions);
* ``reconstruction_rmse``: per-sample RMSE between the samples regenerated from the recovered
  noise and the samples themselves (RF-Solver's editing protocol: invert, then regenerate).

Costs two more sampling runs (2 x NFE evaluations). Other samplers leave both columns empty
with a note.
"""

from __future__ import annotations

from ...metrics import per_sample_rmse, ref_rmse
from ...samplers import sample
from ...samplers.rf_solver import INVERTIBLE, invert
from ..hooks import add_note, register_cell_metric
from ..intervals import stash

@register_cell_metric("inversion_rmse")
def inversion_metric(ctx, cell, result, row) -> None:
    if cell.sampler not in INVERTIBLE:
        add_note(row, f"inversion_rmse: only for {', '.join(INVERTIBLE)}")
        return
    model = ctx.model(cell.model)
    if not model.eval_at_t_min:
        add_note(row, "inversion_rmse: the model cannot be evaluated at t_min, where inversion starts")
        return
    grid_options = ctx.suite.sampler_options.get(cell.sampler, {}).get("grid_options")
    back = invert(model, result.x, cell.nfe, sampler=cell.sampler, grid=result.grid, grid_options=grid_options)
    row["inversion_rmse"] = ref_rmse(back.x, result.noise)
    again = sample(model, cell.sampler, cell.nfe, noise=back.x, grid=result.grid, grid_options=grid_options)
    row["reconstruction_rmse"] = ref_rmse(again.x, result.x)
    stash(ctx, cell, "inversion_rmse", per_sample_rmse(back.x, result.noise))
    stash(ctx, cell, "reconstruction_rmse", per_sample_rmse(again.x, result.x))
