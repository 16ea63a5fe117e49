"""Reproduction recipes: the protocol of each published CIFAR-10 row of RectifiedFlow, 2-RF++, PFGM++,
EDM and score_sde (DPM-Solver's tables) as data, runnable on the released checkpoint.

    rfbench reproduce --list
    rfbench reproduce pfgmpp-pfgmpp-d2048-cifar10-edm-heun-35-fid --checkpoint pfgmpp-d2048.pkl \\
        --set cifar10_root=/data/cifar10
    rfbench compare rfbench-out/reproduce/pfgmpp-pfgmpp-d2048-cifar10-edm-heun-35-fid

One recipe per published row (:data:`RECIPES`, keyed by the row's ``id`` in results/published.csv).
The sampler, NFE, time grid, sample count, conditioning and model are the row's own (a test checks
each recipe against the table); the recipe adds what the row leaves to the paper's code: the
checkpoint format and preset, the model's time interval (``eps``) and anything else the paper's
sampler fixes. A recipe runs the cifar10 suite with that one sampler and NFE and ``fid_n`` = the
published sample count, so its rows carry the same metric columns as any cifar10 run; the model is
registered as ``released.FAMILY.VARIANT``, which ``rfbench compare`` maps to the row's (family,
variant) with no ``--map``.

What rfbench cannot make equal is flagged by ``compare``, never hidden: FID code (rfbench measures
with torch-fidelity's Inception port; the papers used TF-GAN (RF, score_sde, DPM-Solver) or EDM's
own ``fid.py``), reference statistics (rfbench computes them from the CIFAR-10 training set; the RF
and score_sde rows used score_sde's TF statistics file), seed policy (EDM reports the minimum of
three 50k evaluations; rfbench one seed), and adaptive solvers' NFE (an outcome, not a setting).
Noise: ``fid_n`` samples drawn in blocks of 500 from seeds derived from the cell seed (0), one
noise tensor per sample whatever the batch size (see :mod:`rfbench.runner.cell_metrics.images`).

Rows a recipe lists but cannot run say why (``runnable``): class-conditional rows (the suite
samples unconditionally; per-sample labels are not wired into the suite runner), samplers rfbench
does not have (Euler-Maruyama for the VP SDE, DPM-Solver's adaptive step), a sub-VP model, and rows
whose sampler the paper does not state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, InvalidInputError

# kinds of model a recipe accepts: the wrapper class rfbench's loader builds
KINDS = {"rf": "RectifiedFlowVelocity", "vp-eps": "ScoreSDEVP", "denoiser": "DenoiserFlow",
         "diffusers": "DiffusersUNet"}


@dataclass(frozen=True)
class Recipe:
    """The protocol of one published row (see the module docstring)."""

    row_id: str
    family: str                  # published.csv family / variant (the model name maps back to them)
    variant: str
    formats: tuple[str, ...]     # checkpoint formats accepted (rfbench.models.formats.FORMATS)
    kind: str                    # "rf", "vp-eps", "denoiser" or "diffusers" (see KINDS)
    preset: str | None           # the released configuration (weights-only formats need it)
    sampler: str                 # rfbench sampler; equals the row's sampler
    nfe: int | None              # requested NFE (None: adaptive)
    grid: str                    # the sampler's time grid
    n_samples: int               # FID samples (the published count, 50,000 where the paper says)
    conditional: bool = False
    D: float | None = None       # PFGM++'s D (inf for EDM); None for non-denoisers
    model_options: dict[str, Any] = field(default_factory=dict)   # wrapper options (eps = the time interval)
    sampler_options: dict[str, Any] = field(default_factory=dict)
    checkpoint: str = ""         # which released file
    protocol: str = ""           # what the paper's code does, in words (and what differs in rfbench)
    runnable: str | None = None  # None, or why rfbench cannot run the row

    @property
    def model_name(self) -> str:
        return f"released.{self.family}.{self.variant}"


_RF_CKPT = "RectifiedFlow's CIFAR-10 checkpoint_N.pth ({v}; gnobitab/RectifiedFlow README)"
_RF_DOPRI = ("scipy RK45 on the whole batch, rtol = atol = 1e-5, t_rf in [1e-3, 1] (rfbench: dopri5, rtol = atol = "
             "1e-5, t in [0, 1 - 1e-3]); the published NFE is scipy's nfev, a batch-dependent outcome")
_RF_EULER = ("Euler, N = 1, from t_rf = 1e-3 (rfbench: one Euler step over [0, 1 - 1e-3]; the RF code steps dt = 1/N, "
             "a 0.1% longer step)")
_EDM_HEUN = ("EDM's Heun sampler (generate.py defaults): 18 steps on the Karras grid sigma in [0.002, 80], rho = 7, "
             "last step Euler, NFE 35; S_churn = 0 (deterministic); 50,000 samples, seeds 0-49999, one per sample")
_DPM = ("DPM-Solver ({how}) on the VP linear schedule (beta 0.1 to 20), time uniform in log-SNR from t = 1 to t = "
        "{eps:g}; 50,000 samples in the paper's code (not stated in the table)")
_NOT_COND = "class-conditional: the cifar10 suite samples unconditionally (per-sample labels are not wired into its runner)"


def _rf(row, variant, sampler, nfe, *, kind="rf", preset="rf-cifar10-ddpmpp", **kw):
    protocol = _RF_DOPRI if sampler == "dopri5" else _RF_EULER
    return Recipe(row, "rectified-flow", variant, ("score-sde",), kind, preset, sampler, nfe,
                  "uniform" if sampler != "dopri5" else "adaptive", 50_000, model_options={"eps": 1e-3},
                  checkpoint=_RF_CKPT.format(v=variant), protocol=protocol, **kw)


def _edm_family(row, variant, preset, D, *, conditional=False, checkpoint="", note=""):
    return Recipe(row, "pfgmpp", variant, ("edm-pickle",), "denoiser", preset, "edm-heun", 35, "karras", 50_000,
                  conditional=conditional, D=D, checkpoint=checkpoint, protocol=_EDM_HEUN + note,
                  runnable=_NOT_COND if conditional else None)


def _dpm(row, variant, sampler, nfe, *, eps=1e-3, deep=False, how=""):
    preset = f"scoresde-vp-cifar10-ddpmpp{'-deep' if deep else ''}-continuous"
    return Recipe(row, "diffusion", variant, ("score-sde",), "vp-eps", preset, sampler, nfe,
                  "logsnr" if nfe is not None else "adaptive", 50_000, model_options={"eps": eps},
                  checkpoint=f"score_sde's vp/cifar10_ddpmpp{'_deep' if deep else ''}_continuous checkpoint_8.pth",
                  protocol=_DPM.format(how=how or sampler, eps=eps))


_RECIPES = [
    # RectifiedFlow, Table 1(a) of arXiv 2209.03003
    _rf("rf-1-rf-cifar10-dopri5-127-fid", "1-rf", "dopri5", None),
    _rf("rf-2-rf-cifar10-dopri5-110-fid", "2-rf", "dopri5", None),
    _rf("rf-3-rf-cifar10-dopri5-104-fid", "3-rf", "dopri5", None),
    _rf("rf-1-rf-cifar10-euler-1-fid", "1-rf", "euler", 1),
    _rf("rf-2-rf-cifar10-euler-1-fid", "2-rf", "euler", 1),
    _rf("rf-3-rf-cifar10-euler-1-fid", "3-rf", "euler", 1),
    _rf("rf-1-rf-distill-cifar10-euler-1-fid", "1-rf-distill", "euler", 1),
    _rf("rf-2-rf-distill-cifar10-euler-1-fid", "2-rf-distill", "euler", 1),
    _rf("rf-3-rf-distill-cifar10-euler-1-fid", "3-rf-distill", "euler", 1),
    # score_sde baselines quoted in the RF paper's Table 1(a)
    Recipe("rf-vp-ode-scoresde-cifar10-dopri5-140-fid", "diffusion", "vp-ode-scoresde", ("score-sde",), "vp-eps",
           "scoresde-vp-cifar10-ddpmpp-continuous", "dopri5", None, "adaptive", 50_000, model_options={"eps": 1e-3},
           checkpoint="score_sde's vp/cifar10_ddpmpp_continuous checkpoint_8.pth",
           protocol="scipy RK45 on the probability-flow ODE, rtol = atol = 1e-5, t in [1e-3, 1] (score_sde's "
                    "ode_sampler defaults)"),
    Recipe("rf-subvp-ode-scoresde-cifar10-dopri5-146-fid", "diffusion", "subvp-ode-scoresde", ("score-sde",), "vp-eps",
           None, "dopri5", None, "adaptive", 50_000, protocol="scipy RK45 on the sub-VP probability-flow ODE",
           runnable="a sub-VP SDE model: rfbench's score_sde loader wraps VP and VE models only"),
    Recipe("rf-vp-ode-scoresde-distill-cifar10-euler-1-fid", "diffusion", "vp-ode-scoresde-distill", ("score-sde",),
           "vp-eps", None, "euler", 1, "uniform", 50_000, protocol="one Euler step of a distilled VP ODE network",
           runnable="no released checkpoint of the distilled VP ODE network is known to rfbench"),
    Recipe("rf-vp-sde-scoresde-cifar10-euler-maruyama-2000-fid", "diffusion", "vp-sde-scoresde", ("score-sde",),
           "vp-eps", "scoresde-vp-cifar10-ddpmpp-continuous", "euler-maruyama", 2000, "uniform", 50_000,
           protocol="Euler-Maruyama on the reverse VP SDE, 2000 steps",
           runnable="an SDE sampler (Euler-Maruyama); rfbench benchmarks ODE samplers only"),
    # 2-RF++ (arXiv 2405.20320, Table 1 / 2)
    Recipe("rfpp-2-rf++-cifar10-euler-1-fid", "rectified-flow", "2-rf++", ("rfpp",), "denoiser", "rfpp-cifar10",
           "euler", 1, "uniform", 50_000, D=math.inf, checkpoint="rfpp's CIFAR-10 2-RF++ state dict (config F)",
           protocol="one Euler step from pure noise (rfpp's 'new' update rule coincides at one step); EDM's fid.py "
                    "against the CIFAR-10 training set; rfbench starts at t = sigma_max / (1 + sigma_max)"),
    Recipe("rfpp-2-rf++-cifar10-euler-1-fid-2", "rectified-flow", "2-rf++", ("rfpp",), "denoiser", "rfpp-cifar10",
           "euler", 1, "uniform", 50_000, D=math.inf,
           checkpoint="rfpp's CIFAR-10 2-RF++ state dict (config G: F + real-data fine-tune)",
           protocol="as config F's row: one Euler step from pure noise"),
    Recipe("rfpp-2-rf++-cifar10-not-stated-2-fid", "rectified-flow", "2-rf++", ("rfpp",), "denoiser", "rfpp-cifar10",
           "not-stated", 2, "not-stated", 50_000, D=math.inf, protocol="2 NFE, sampler not stated by the paper",
           runnable="the paper does not state the 2-NFE sampler (Euler N = 2, rfpp's new rule or Heun N = 2)"),
    Recipe("rfpp-2-rf++-cifar10-not-stated-2-fid-2", "rectified-flow", "2-rf++", ("rfpp",), "denoiser", "rfpp-cifar10",
           "not-stated", 2, "not-stated", 50_000, D=math.inf, protocol="2 NFE, sampler not stated by the paper",
           runnable="the paper does not state the 2-NFE sampler (Euler N = 2, rfpp's new rule or Heun N = 2)"),
    Recipe("rfpp-2-rf-cifar10-euler-1-fid", "rectified-flow", "2-rf", ("rfpp",), "denoiser", "rfpp-cifar10",
           "euler", 1, "uniform", 50_000, D=math.inf,
           checkpoint="rfpp's ablation baseline (config B: 2-RF + EDM init), an rfpp state dict if you have one",
           protocol="one Euler step from pure noise; EDM's fid.py"),
    # PFGM++ (arXiv 2302.04265, Table 1 / 2) and EDM (arXiv 2206.00364, Table 2)
    _edm_family("pfgmpp-pfgmpp-d2048-cifar10-edm-heun-35-fid", "pfgmpp-d2048", "pfgmpp-cifar10-ncsnpp-d2048", 2048.0,
                checkpoint="PFGM++'s CIFAR-10 D = 2048 NCSN++ snapshot (.pkl) or training state (.pt)",
                note="; PFGM++'s prior for D = 2048 (radius from Beta(N/2, D/2))"),
    _edm_family("pfgmpp-pfgmpp-d128-cifar10-edm-heun-35-fid", "pfgmpp-d128", "pfgmpp-cifar10-ncsnpp-d128", 128.0,
                checkpoint="PFGM++'s CIFAR-10 D = 128 NCSN++ snapshot (.pkl) or training state (.pt)",
                note="; PFGM++'s prior for D = 128"),
    _edm_family("pfgmpp-edm-cifar10-edm-heun-35-fid", "edm", "pfgmpp-cifar10-ncsnpp-dinf", math.inf,
                checkpoint="PFGM++'s D -> inf (EDM) NCSN++ retrain (.pkl or .pt)"),
    _edm_family("pfgmpp-pfgmpp-d2048-cifar10-edm-heun-35-fid-2", "pfgmpp-d2048", "pfgmpp-cifar10-ncsnpp-d2048-cond",
                2048.0, conditional=True, checkpoint="PFGM++'s class-conditional CIFAR-10 D = 2048 snapshot"),
    _edm_family("edm-edm-cifar10-edm-heun-35-fid", "edm", "edm-cifar10-cond-vp", math.inf, conditional=True,
                checkpoint="EDM's edm-cifar10-32x32-cond-vp.pkl"),
    _edm_family("edm-edm-cifar10-edm-heun-35-fid-2", "edm", "edm-cifar10-uncond-vp", math.inf,
                checkpoint="EDM's edm-cifar10-32x32-uncond-vp.pkl",
                note="; EDM reports the minimum of three 50k evaluations (rfbench: one)"),
    # DPM-Solver (arXiv 2206.00927), score_sde's VP checkpoints
    _dpm("dpm-vp-scoresde-deep-continuous-cifar10-dpm-solver-fast-10-fid", "vp-scoresde-deep-continuous",
         "dpm-solver-fast", 10, deep=True, how="fast, orders 3,..,3,2,1"),
    _dpm("dpm-vp-scoresde-deep-continuous-cifar10-dpm-solver-fast-12-fid", "vp-scoresde-deep-continuous",
         "dpm-solver-fast", 12, deep=True, how="fast, orders 3,..,3,2,1"),
    _dpm("dpm-vp-scoresde-deep-continuous-cifar10-dpm-solver-fast-15-fid", "vp-scoresde-deep-continuous",
         "dpm-solver-fast", 15, deep=True, how="fast, orders 3,..,3,2,1"),
    _dpm("dpm-vp-scoresde-deep-continuous-cifar10-dpm-solver-fast-20-fid", "vp-scoresde-deep-continuous",
         "dpm-solver-fast", 20, eps=1e-4, deep=True, how="fast, orders 3,..,3,2,1"),
    *[_dpm(f"dpm-vp-scoresde-continuous-cifar10-dpm-solver-{k}-{n}-fid", "vp-scoresde-continuous",
           f"dpm-solver-{k}", n) for k, n in ((2, 10), (2, 12), (3, 12), (2, 18), (3, 18), (2, 24), (3, 24), (2, 48),
                                              (3, 48))],
    Recipe("dpm-vp-scoresde-deep-continuous-cifar10-dpm-solver-adaptive-51-fid", "diffusion",
           "vp-scoresde-deep-continuous", ("score-sde",), "vp-eps", "scoresde-vp-cifar10-ddpmpp-deep-continuous",
           "dpm-solver-adaptive", None, "adaptive", 50_000, model_options={"eps": 1e-4},
           protocol="DPM-Solver-12 adaptive step size, t in [1e-4, 1]",
           runnable="DPM-Solver's adaptive step-size solver is not an rfbench sampler"),
    Recipe("dpm-ddpm-cifar10-dpm-solver-fast-12-fid", "diffusion", "ddpm", ("diffusers",), "diffusers", None,
           "dpm-solver-fast", 12, "logsnr", 50_000,
           checkpoint="DDPM's CIFAR-10 model as a diffusers folder (google/ddpm-cifar10-32 layout)",
           protocol="DPM-Solver (fast) on the discrete-time DDPM model, t in [1/1000, 1]; pytorch-fid statistics of "
                    "the training set in the paper"),
]
RECIPES: dict[str, Recipe] = {r.row_id: r for r in _RECIPES}


def get_recipe(row_id: str) -> Recipe:
    if row_id not in RECIPES:
        import difflib

        close = difflib.get_close_matches(row_id, list(RECIPES), n=1)
        raise InvalidInputError(f"no reproduction recipe for published row {row_id!r}"
                               + (f" (did you mean {close[0]!r}?)" if close else "")
                               + "; `rfbench reproduce --list` lists them")
    return RECIPES[row_id]


def list_recipes() -> str:
    lines = [f"{'row id':<72} {'sampler':<16} {'NFE':>4}  checkpoint format / preset"]
    for r in _RECIPES:
        what = f"{'/'.join(r.formats)} {r.preset or ''}".strip()
        state = "" if r.runnable is None else f"  [not runnable: {r.runnable}]"
        lines.append(f"{r.row_id:<72} {r.sampler:<16} {r.nfe if r.nfe is not None else 'adpt':>4}  {what}{state}")
    return "\n".join(lines)


def check_model(recipe: Recipe, model, path) -> list[str]:
    """One-line CheckpointError when ``model`` is not the kind of model the recipe's row measured
    (format, wrapper, D, conditioning); returns warnings for differences that do not change the kind
    (another network size than the released configuration)."""
    fmt = (model.meta.get("format") if hasattr(model, "meta") else None) or (
        "diffusers" if type(model).__name__ == "DiffusersUNet" else None)
    if fmt not in recipe.formats:
        raise CheckpointError(f"checkpoint {path} is in {fmt} format; row {recipe.row_id} measured a "
                              f"{' or '.join(recipe.formats)} checkpoint ({recipe.checkpoint or recipe.preset})")
    want = KINDS[recipe.kind]
    if type(model).__name__ != want:
        raise CheckpointError(f"checkpoint {path} loads as a {type(model).__name__}; row {recipe.row_id} needs a "
                              f"{want} ({recipe.checkpoint or recipe.preset})")
    if recipe.D is not None:
        D = float(model.config().get("D", math.inf))
        if D != recipe.D:
            raise CheckpointError(f"checkpoint {path} is a D = {D:g} model; row {recipe.row_id} measured D = "
                                  f"{recipe.D:g}")
    label_dim = int(getattr(model, "label_dim", 0) or 0)
    if bool(label_dim) != recipe.conditional:
        have = f"class-conditional ({label_dim} classes)" if label_dim else "unconditional"
        raise CheckpointError(f"checkpoint {path} is {have}; row {recipe.row_id} is "
                              f"{'class-conditional' if recipe.conditional else 'unconditional'}")
    warnings = []
    if recipe.preset is not None and getattr(model, "meta", {}).get("preset") != recipe.preset:
        from ..models.formats import PRESETS

        n = sum(p.numel() for p in model.net.parameters()) if hasattr(model, "net") else None
        if n is not None and n != PRESETS[recipe.preset].params:
            warnings.append(f"the network has {n:,} parameters, the released configuration ({recipe.preset}) "
                            f"{PRESETS[recipe.preset].params:,}: not the released model")
    return warnings


# --smoke: the cifar10 suite's smoke configuration (CPU, stand-in Inception / AlexNet weights and reference
# images, a loose reference tolerance, tiny sample counts) with the recipe's model, sampler and NFE: its
# numbers are fd_unverified / lpips_unverified, never fid / lpips
SMOKE_OPTIONS = {"standin_model": False, "allow_cpu": True}


def reproduce(row_id: str, checkpoint: str | Path, *, out: str | Path | None = None, n_samples: int | None = None,
              device: str | None = None, progress: bool = True, options: dict[str, Any] | None = None,
              checkpoint_options: dict[str, Any] | None = None, allow_unsafe: bool = False,
              smoke: bool = False) -> dict:
    """Run a recipe on ``checkpoint``: register it as the recipe's model (preset and time options from
    the recipe, ``checkpoint_options`` on top), check it is the row's kind of model, and run the
    cifar10 suite with the row's sampler, NFE and FID sample count (``smoke``: stand-ins on CPU, see
    :data:`SMOKE_OPTIONS`). Returns run_suite's result plus a one-line ``summary``."""
    from ..models.formats import register_checkpoint
    from ..runner import run_suite

    recipe = get_recipe(row_id)
    if recipe.runnable is not None:
        raise InvalidInputError(f"row {row_id} cannot be reproduced by rfbench: {recipe.runnable}")
    path = Path(checkpoint).expanduser()
    if not path.exists():
        raise InvalidInputError(f"checkpoint {path} does not exist")
    from ..models.formats import detect_format

    fmt = detect_format(path)
    if fmt not in recipe.formats:
        raise CheckpointError(f"checkpoint {path} is in {fmt} format; row {row_id} measured a "
                              f"{' or '.join(recipe.formats)} checkpoint ({recipe.checkpoint or recipe.preset})")
    given = dict(checkpoint_options or {})
    opts: dict[str, Any] = dict(recipe.model_options)
    if recipe.preset is not None and "edm-pickle" not in recipe.formats and "config" not in given:
        opts["preset"] = recipe.preset
    opts.update(given)
    if "config" in opts and "preset" in opts and "preset" not in given:
        opts.pop("preset")
    if "config" in opts and recipe.formats == ("score-sde",) and "sde" not in opts:
        opts["sde"] = {"rf": "rectified_flow", "vp-eps": "vpsde"}[recipe.kind]
    if recipe.formats == ("diffusers",):
        opts = given
    try:
        entry = register_checkpoint(recipe.model_name, path, replace=True, dataset="cifar10",
                                    allow_unsafe=allow_unsafe or None, **opts)
    except InvalidInputError as exc:
        raise InvalidInputError(f"row {row_id}: {exc}") from None
    from ..models import get_model

    model = get_model(entry.name)
    notes = check_model(recipe, model, path)
    suite_options: dict[str, Any] = {"checkpoints": recipe.model_name,
                                     **(SMOKE_OPTIONS if smoke else {"fid_n": recipe.n_samples})}
    if n_samples is not None:
        suite_options["fid_n"] = int(n_samples)
    suite_options.update(options or {})
    res = run_suite("cifar10", smoke=smoke, device=device, out=out or Path("rfbench-out") / "reproduce" / row_id,
                    samplers=[recipe.sampler], nfe=[recipe.nfe] if recipe.nfe is not None else None,
                    progress=progress, options=suite_options)
    s = res["summary"]
    res["summary"] = (f"{row_id}: {s['cells']} cells ({s['computed']} computed, {s['reused']} reused, {s['failed']} "
                      f"failed); wrote {res['csv']}; compare with `rfbench compare {Path(res['csv']).parent}`"
                      + "".join(f"\nnote: {n}" for n in notes))
    res["recipe"] = recipe
    return res


__all__ = ["KINDS", "RECIPES", "Recipe", "check_model", "get_recipe", "list_recipes", "reproduce"]
