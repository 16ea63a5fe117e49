"""The one place where rfbench's names meet the published tables' keys.

A published row (results/published.csv) is keyed by (family, variant, conditioning, dataset, sampler,
NFE, metric). A measured row of a suite's results.csv carries rfbench names: the model registry
name, the dataset name, the sampler registry name and metric columns. This module maps the latter
onto the former; :func:`rfbench.reporting.compare.compare` joins on the result.

The keys of published.csv are chosen so that the mapping is short:

* ``variant`` is the rfbench model name wherever rfbench has that model (``1-rf``, ``2-rf``,
  ``2-rf-distill``, ``2-rf++``, ``rectified-diffusion``, ``pfgmpp-d128``, ``edm``); other
  variants use descriptive slugs (``vp-scoresde-deep-continuous``, ``sd15``) and never match a
  measured row unless a user maps a model onto them (``--map NAME=FAMILY/VARIANT``).
* ``sampler`` is the rfbench sampler name wherever rfbench has that sampler (``euler``, ``heun``,
  ``edm-heun``, ``dopri5`` for the RF paper's scipy RK45, ``ddim``, ``dpm-solver-fast``,
  ``dpm-solver-2``, ``dpm-solver++``, ``rf-solver``, ``boss``, ``flowturbo``); ``not-stated``
  where the paper does not say.
* ``dataset`` is the rfbench dataset name (``cifar10``); resolution is a separate field.

Models a user registers from their own checkpoints (e.g. a CIFAR-10 1-RF under ``my-rf``) are
mapped with ``--map my-rf=rectified-flow/1-rf`` (CLI) or ``model_map={"my-rf": (...)}`` (Python).
"""

from __future__ import annotations

import re

from ..errors import InvalidInputError

# rfbench model registry name -> (family, variant) of published.csv.
MODEL_KEYS: dict[str, tuple[str, str]] = {
    "1-rf": ("rectified-flow", "1-rf"),
    "2-rf": ("rectified-flow", "2-rf"),
    "3-rf": ("rectified-flow", "3-rf"),
    "1-rf-distill": ("rectified-flow", "1-rf-distill"),
    "2-rf-distill": ("rectified-flow", "2-rf-distill"),
    "3-rf-distill": ("rectified-flow", "3-rf-distill"),
    "2-rf++": ("rectified-flow", "2-rf++"),
    "rectified-diffusion": ("rectified-diffusion", "rectified-diffusion"),
    "rectified-diffusion-phased": ("rectified-diffusion", "rectified-diffusion-phased"),
    # rfbench's base diffusion model for Rectified Diffusion: a DDPM-style eps-prediction model.
    "diffusion": ("diffusion", "ddpm"),
    "vp-diffusion": ("diffusion", "ddpm"),
    "ddpm": ("diffusion", "ddpm"),
    # EDM is PFGM++'s D -> infinity limit; both papers' rows use variant "edm".
    "edm": ("pfgmpp", "edm"),
    "pfgmpp-dinf": ("pfgmpp", "edm"),
}

# Rules for families of names (first match wins), after the exact table above.
MODEL_PATTERNS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^pfgmpp-d(?P<d>\d+)$"), "pfgmpp/pfgmpp-d{d}"),
    (re.compile(r"^analytic-(?P<rest>.+)$"), "analytic/analytic-{rest}"),  # exact oracles: no paper reports them
    # released checkpoints registered by `rfbench reproduce` (rfbench.suites.recipes): released.FAMILY.VARIANT
    (re.compile(r"^released\.(?P<family>[a-z0-9-]+)\.(?P<variant>.+)$"), "{family}/{variant}"),
]

# rfbench dataset name -> published dataset key (identity unless listed).
DATASET_KEYS: dict[str, str] = {
    "cifar-10": "cifar10",
    "cifar10-32": "cifar10",
    "ffhq64": "ffhq",
    "ffhq-64": "ffhq",
    "imagenet64": "imagenet",
    "imagenet-64": "imagenet",
}

# rfbench sampler name -> published sampler key (identity unless listed).
SAMPLER_KEYS: dict[str, str] = {
    "rk45": "dopri5",  # scipy's RK45 is the Dormand-Prince 5(4) pair dopri5 implements
}

# Metric columns -> published metric keys: ``Metric.published_key`` in the metric registry
# (rfbench.metrics.registry); metrics without one (ref_rmse, w2, fd_digits, ...) are not compared.

# Measured fid_impl strings (e.g. "torch-fidelity 0.4.0") -> the FID implementation vocabulary.
FID_IMPL_PATTERNS: list[tuple[str, str]] = [
    ("torch-fidelity", "torch-fidelity"),
    ("torch_fidelity", "torch-fidelity"),
    ("clean-fid", "clean-fid"),
    ("cleanfid", "clean-fid"),
    ("pytorch-fid", "pytorch-fid"),
    ("pytorch_fid", "pytorch-fid"),
    ("tf-gan", "tf-gan"),
    ("tfgan", "tf-gan"),
    ("edm", "edm-fid"),
    ("adm", "adm-evaluator"),
]


def parse_model_map(items: list[str] | None) -> dict[str, tuple[str, str]]:
    """``["my-rf=rectified-flow/1-rf", ...]`` -> {"my-rf": ("rectified-flow", "1-rf")}."""
    out: dict[str, tuple[str, str]] = {}
    for item in items or []:
        name, sep, key = item.partition("=")
        family, slash, variant = key.partition("/")
        if not sep or not slash or not name.strip() or not family.strip() or not variant.strip():
            raise InvalidInputError(f"--map expects NAME=FAMILY/VARIANT (e.g. my-rf=rectified-flow/1-rf), got {item!r}")
        out[name.strip()] = (family.strip(), variant.strip())
    return out


def model_key(name: str, model_map: dict[str, tuple[str, str]] | None = None) -> tuple[str, str, str]:
    """(family, variant, how) for an rfbench model name; ``how`` says which rule applied."""
    if model_map and name in model_map:
        return (*model_map[name], "--map")
    if name in MODEL_KEYS:
        return (*MODEL_KEYS[name], "table")
    for pattern, template in MODEL_PATTERNS:
        m = pattern.match(name)
        if m:
            family, variant = template.format(**m.groupdict()).split("/", 1)
            return family, variant, "pattern"
    try:  # a model registered in this process (e.g. an external checkpoint) knows its family
        from ..models import MODELS

        if name in MODELS:
            return MODELS.get(name).family, name, "registry family"
    except Exception:  # noqa: BLE001 - mapping must not depend on importable models
        pass
    return "unmapped", name, "none (add --map NAME=FAMILY/VARIANT)"


def dataset_key(name: object) -> str:
    text = "" if name is None or (isinstance(name, float) and name != name) else str(name)
    return DATASET_KEYS.get(text, text)


def sampler_key(name: str) -> str:
    return SAMPLER_KEYS.get(name, name)


def fid_impl_class(text: object) -> str:
    """Measured ``fid_impl`` text -> the published vocabulary ("not-recorded" when missing)."""
    if text is None or (isinstance(text, float) and text != text) or str(text).strip() == "":
        return "not-recorded"
    low = str(text).lower()
    for needle, cls in FID_IMPL_PATTERNS:
        if needle in low:
            return cls
    return low
