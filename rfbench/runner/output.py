"""Result files of a sweep, written through the one renderer (:mod:`rfbench.reporting.tables`,
:mod:`rfbench.reporting.figures`): results.csv, results.md, metric-vs-NFE figures and run.json."""

from __future__ import annotations

import json
from pathlib import Path

from ..cache import atomic_write_text
from ..reporting.figures import metric_vs_nfe, vs_nfe_metrics
from ..reporting.render import Heading, Para, blocks_to_markdown
from ..reporting.tables import environment_line, results_blocks, results_frame


def write_outputs(rows: list[dict], out_dir: str | Path, suite_name: str, summary: dict | None = None,
                  metrics: tuple[str, ...] = (), facts: dict | None = None) -> dict:
    """results.csv, results.md, figures and run.json (the summary and the suite's ``facts``: its
    description and timing settings, which the report reads instead of the suite registry)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = results_frame(rows, metrics)
    atomic_write_text(out / "results.csv", df.to_csv(index=False))
    blocks: list = [Heading(1, f"rfbench suite `{suite_name}`")]
    if summary:
        blocks.append(Para(", ".join(f"{k}: {v}" for k, v in summary.items())))
    if env := environment_line(df):
        blocks.append(Para(f"Environment: {env}"))
    atomic_write_text(out / "results.md", blocks_to_markdown(blocks + results_blocks(df, level=2)))
    plots = []
    for m in vs_nfe_metrics(df):
        drawn = metric_vs_nfe(df, m, out / f"{m}_vs_nfe.png", title=f"{suite_name}: {m} vs NFE")
        if drawn:
            plots.append(str(drawn[0]))
    from .artifacts import write_montages  # image suites: samples by sampler x NFE

    plots += [str(p) for p in write_montages(df, out)]
    meta = {"suite": suite_name, **(facts or {}), "summary": summary or {}, "plots": plots}
    atomic_write_text(out / "run.json", json.dumps(meta, indent=1))
    return {"csv": out / "results.csv", "md": out / "results.md", "plots": plots, "frame": df}
