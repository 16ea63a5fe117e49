"""The figure renderer (rfbench.reporting.figures): palette, plain ticks at the measured NFE, slope
guides, the held-out noise level, legends outside the axes, Pareto fronts only on timings that carry
them, sample montages labelled sampler x NFE. Figures are read back from their matplotlib objects."""

import math

import numpy as np
import pandas as pd
import pytest

from rfbench.reporting.figures import (
    NOISE_LEVEL_LABEL,
    metric_vs_nfe_figure,
    palette,
    pareto_figure,
    plain,
    sample_montage,
    sampler_family,
    timing_verdict,
    untrusted_timings,
)
from rfbench.samplers import SAMPLERS
from rfbench.suites.toy2d import TOY2D

QUICK = TOY2D.configure(quick=True).samplers
FIXED = [s for s in QUICK if s != "dopri5"]


def _rows(samplers=FIXED, models=("analytic-gmm-rf", "1-rf"), nfes=(2, 4, 8, 16, 32, 64), seeds=(0,),
          spread=0.02, scale=1.0):
    """Synthetic results: sampler i has order 1 + i % 3; time proportional to NFE (x ``spread`` noise)."""
    rng = np.random.default_rng(0)
    rows = []
    for m in models:
        for i, s in enumerate(samplers):
            p = 1 + i % 3
            for n in nfes:
                for seed in seeds:
                    rows.append(dict(suite="t", model=m, data=None if m.startswith("analytic") else "8gaussians",
                                     sampler=s, grid="uniform", nfe=n, nfe_measured=n, status="ok", seed=seed,
                                     ref_rmse=scale * 0.05 * (i + 1) * n ** -p, w2=0.05 + 0.3 * n ** -p,
                                     w2_floor=0.06, wall_clock_s=1e-4 * n * (1 + spread * rng.uniform(-0.5, 0.5)),
                                     wall_clock_spread=spread, torch_threads=2))
    return pd.DataFrame(rows)


def _labels(fig):
    fig.canvas.draw()
    out = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            out += [t.get_text() for t in axis.get_ticklabels(which="both") if t.get_text()]
            out.append(axis.get_offset_text().get_text())
    return out


def test_palette_keeps_every_sampler_distinguishable():
    names = list(SAMPLERS) + ["diffusers:UniPCMultistepScheduler", "diffusers:FlowMatchEulerDiscreteScheduler",
                              "my_module:my_sampler"]
    pal = palette(names)
    assert set(pal) == set(names) and len(names) >= 15
    pairs = [(c, m) for c, m, _ in pal.values()]
    assert len(set(pairs)) == len(pairs)  # (colour, marker) unique
    # a family shares a hue, different families never share a colour: the colour tells the family
    by_family: dict = {}
    for c, _, f in pal.values():
        by_family.setdefault(f, set()).add(c)
    fams = list(by_family)
    for i, a in enumerate(fams):
        for b in fams[i + 1:]:
            assert not by_family[a] & by_family[b]
    # within a family the markers all differ
    for f in fams:
        members = [m for _, m, g in pal.values() if g == f]
        assert len(members) == len(set(members)), f
    # the complaint: euler, edm-heun and flowturbo were all pink
    assert len({pal[n][0] for n in ("euler", "edm-heun", "flowturbo")}) == 3
    assert sampler_family("dpm-solver++-2m") == "DPM-Solver" and sampler_family("unipc-2") == "UniPC / DEIS / iPNDM"
    assert sampler_family("flowturbo") == sampler_family("boss") == "BOSS / FlowTurbo"
    assert sampler_family("my_unregistered_sampler") == "other"


@pytest.mark.parametrize("v,text", [(732.0, "732"), (0.05, "0.05"), (2.5e-4, "2.5e-4"), (1e-6, "1e-6"),
                                    (64.0, "64"), (1e5, "1e5")])
def test_plain_number(v, text):
    assert plain(v) == text


@pytest.mark.parametrize("scale", [1.0, 1e4, 1e-4])
def test_tick_labels_plain_and_nfe_ticks_at_measured_values(scale):
    df = _rows(scale=scale)
    fig, _ = metric_vs_nfe_figure(df, "ref_rmse")
    labels = _labels(fig)
    assert labels and not [t for t in labels if any(bad in t for bad in ("$", "\\times", "10^", "×"))], labels
    for ax in fig.axes:
        if ax.get_visible() and ax.get_xlabel().startswith("NFE"):
            ticks = [float(t) for t in ax.get_xticks()]
            assert ticks == [2, 4, 8, 16, 32, 64]
            assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "4", "8", "16", "32", "64"]


def test_nfe_ticks_keep_odd_measured_values_apart():
    df = _rows(nfes=(3, 4, 5, 9, 16, 17))
    fig, _ = metric_vs_nfe_figure(df, "w2")
    ax = fig.axes[0]
    ticks = [float(t) for t in ax.get_xticks()]
    assert set(ticks) <= {3, 4, 5, 9, 16, 17} and 3 in ticks and 16 in ticks
    gaps = [math.log10(b) - math.log10(a) for a, b in zip(ticks, ticks[1:])]
    assert min(gaps) > 0.09  # 16 and 17 would overlap: one of them is left unlabelled


def test_slope_guides_on_ref_rmse_only():
    df = _rows()
    fig, _ = metric_vs_nfe_figure(df, "ref_rmse")
    for ax in [a for a in fig.axes if a.get_visible() and a.get_xlabel()]:
        guides = {ln.get_label(): ln for ln in ax.get_lines() if ln.get_label().startswith("slope guide")}
        assert sorted(guides) == [f"slope guide: order {p}" for p in (1, 2, 3)]
        for p in (1, 2, 3):
            (x0, x1), (y0, y1) = guides[f"slope guide: order {p}"].get_data()
            assert -(math.log(y1) - math.log(y0)) / (math.log(x1) - math.log(x0)) == pytest.approx(p)
    fig, _ = metric_vs_nfe_figure(df, "w2")
    assert not [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_label().startswith("slope guide")]


def test_noise_level_band_and_legend_outside_the_axes():
    fig, _ = metric_vs_nfe_figure(_rows(), "w2")
    fig.canvas.draw()
    assert len(fig.legends) == 1 and not [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    legend = fig.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    assert NOISE_LEVEL_LABEL in texts and "held-out noise level" in NOISE_LEVEL_LABEL
    assert "w2_floor" not in " ".join(texts)
    assert {"Euler / Heun / RK", "DPM-Solver", "BOSS / FlowTurbo"} <= set(texts)  # families grouped
    renderer = fig.canvas.get_renderer()
    box = legend.get_window_extent(renderer)
    for ax in fig.axes:
        if ax.get_visible():
            assert not box.overlaps(ax.get_window_extent(renderer))
    spans = [p for ax in fig.axes for p in ax.patches if p.get_label() == NOISE_LEVEL_LABEL]
    assert spans and all(p.get_y() + p.get_height() == pytest.approx(0.06) for p in spans)


def test_timing_verdict():
    def cells(times):
        return pd.DataFrame({"sampler": ["a"] * len(times), "nfe_measured": [2, 4, 8][:len(times)], "t": times})

    assert timing_verdict(cells([1.0, 2.0, 4.0]), 0.1)[0]  # doubling NFE doubles the time: 100% > 10%
    ok, why = timing_verdict(cells([1.0, 1.05, 1.1]), 0.1)  # overhead-bound: 5% steps under 10% spread
    assert not ok and "no front drawn" in why
    ok, why = timing_verdict(cells([1.0, 2.0]), None)
    assert ok and "not recorded" in why


def test_pareto_front_only_on_timings_that_carry_it():
    quiet, noisy = _rows(spread=0.01), _rows(spread=3.0)
    assert untrusted_timings(quiet, "ref_rmse") == [] and len(untrusted_timings(noisy, "ref_rmse")) == 2
    for df, drawn in ((quiet, True), (noisy, False)):
        fig = pareto_figure(df, "ref_rmse")
        fig.canvas.draw()
        fronts = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_label() == "Pareto front"]
        assert bool(fronts) == drawn
        panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_xlabel()]
        assert all("2 torch threads" in ax.get_xlabel() for ax in panels)
        renderer = fig.canvas.get_renderer()
        for ax in panels:
            boxes = [t.get_window_extent(renderer) for t in ax.texts if "@" in t.get_text()]
            assert bool(boxes) == drawn
            assert not [1 for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]
            notes = [t.get_text() for t in ax.texts if "timing spread" in t.get_text()]
            assert notes and (("no front drawn" in notes[0]) != drawn)


def test_pareto_across_seeds_spread(tmp_path):
    """Several seeds whose timings differ 4x: no front, whatever the per-call spread says."""
    df = _rows(seeds=(0, 1, 2), spread=0.0)
    df.loc[df["seed"] == 1, "wall_clock_s"] *= 4
    df = df.drop(columns="wall_clock_spread")
    assert len(untrusted_timings(df, "ref_rmse")) == 2


def test_sample_montage_labelled_sampler_by_nfe(tmp_path):
    from PIL import Image

    tiles = {}
    for s in ("heun", "euler"):
        for n in ("4", "16", "adaptive"):
            p = tmp_path / f"{s}-{n}.png"
            Image.fromarray(np.full((20, 20), 128, np.uint8)).save(p)
            tiles[(s, n)] = p
    ref = tmp_path / "ref.png"
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(ref)
    import rfbench.reporting.figures as figures

    captured = {}
    real = figures._save
    figures._save = lambda fig, path: captured.setdefault("fig", fig) and real(fig, path)
    try:
        out = sample_montage(tiles, tmp_path / "m.png", extra={"reference": ref, "missing": tmp_path / "no.png"})
    finally:
        figures._save = real
    assert out.is_file() and Image.open(out).size[0] > 100
    fig = captured["fig"]
    axes = np.array(fig.axes).reshape(3, 3)
    assert [ax.get_title() for ax in axes[0]] == ["NFE 4", "NFE 16", "NFE adaptive"]
    assert [axes[i][0].get_ylabel() for i in range(2)] == ["euler", "heun"]  # palette order: euler first
    assert axes[2][0].get_xlabel() == "reference" and axes[2][1].get_xlabel() == ""
    assert sample_montage({}, tmp_path / "none.png") is None


def test_noise_level_band_keeps_a_log_axis_positive():
    """w2 spanning decades (log axis): the band must not pull the axis down to 0."""
    df = _rows()
    df["w2"] = 0.2 + 100 * df["nfe"].astype(float) ** -3.0
    for fig in (metric_vs_nfe_figure(df, "w2")[0], pareto_figure(df, "w2")):
        for ax in [a for a in fig.axes if a.get_visible() and a.get_xlabel()]:
            assert ax.get_yscale() == "log" and ax.get_ylim()[0] > 1e-3  # not pulled towards 0
            assert ax.get_ylim()[0] < 0.06 < ax.get_ylim()[1]  # the noise level is in view
