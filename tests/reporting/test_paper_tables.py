"""Tables and report for a paper: the sampler x NFE tables (best of each NFE column in bold, in the
metric's registry direction), their LaTeX export (booktabs structure, balanced braces, one cell per
column; compiled when pdflatex exists), the headline (best sampler per NFE, the samplers
indistinguishable from it in the paired bootstrap), and the report's order (headline, figures,
tables, the rest; an unmatched published comparison in one line). Every frame is built by hand so
the right answers are known."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from rfbench.metrics.uncertainty import BootstrapPlan, mean_replicates
from rfbench.reporting import build_report
from rfbench.reporting.render import Table, blocks_to_markdown, latex_escape, table_to_latex
from rfbench.reporting.tables import headline, latex_tables, lead_metric, results_blocks, wide_table, wide_tables


def _row(model, sampler, nfe, seed=0, **metrics):
    return dict(suite="hand", model=model, data="", sampler=sampler, grid="uniform", nfe=nfe,
                nfe_measured=nfe, status="ok", seed=seed, dtype="float64", n_samples=100, **metrics)


@pytest.fixture
def frame():
    """ref_rmse (lower is better) and psnr (higher is better) with known winners:
    NFE 4: ref_rmse best = b (0.1), psnr best = c (30 dB); NFE 8: ref_rmse best = a (0.01),
    psnr best = a (40 dB). Values chosen so that the lowest psnr sits next to the lowest ref_rmse
    at NFE 4: a renderer that took the wrong direction for psnr would bold b there."""
    vals = {("a", 4): (0.3, 20.0), ("b", 4): (0.1, 10.0), ("c", 4): (0.2, 30.0),
            ("a", 8): (0.01, 40.0), ("b", 8): (0.05, 35.0), ("c", 8): (0.02, 25.0)}
    return pd.DataFrame([_row("toy_model", s, n, ref_rmse=e, psnr=p) for (s, n), (e, p) in vals.items()])


def _bold(table: Table) -> dict[str, str]:
    """Per NFE column header, the samplers whose cell is bold."""
    out = {}
    for j, h in enumerate(table.header):
        if h.startswith("NFE "):
            out[h] = ",".join(r[0] for r in table.rows if r[j].startswith("**"))
    return out


def test_best_value_bold_in_the_metric_direction(frame):
    rmse = wide_table(frame, "ref_rmse", model="toy_model")
    psnr = wide_table(frame, "psnr", model="toy_model")
    assert rmse.direction == "lower" and psnr.direction == "higher"  # from the metric registry
    assert _bold(rmse.to_table()) == {"NFE 4": "b", "NFE 8": "a"}
    assert _bold(psnr.to_table()) == {"NFE 4": "c", "NFE 8": "a"}
    t = psnr.to_table()
    assert t.header == ["psnr (dB) ↑", "NFE 4", "NFE 8"] and [r[0] for r in t.rows] == ["a", "b", "c"]
    assert t.rows[2][1] == "**30**" and t.rows[0][1] == "20"


def test_ties_at_shown_precision_are_all_bold_and_counts_never():
    df = pd.DataFrame([_row("m", "a", 4, ref_rmse=0.12354), _row("m", "b", 4, ref_rmse=0.12346),
                       _row("m", "c", 4, ref_rmse=0.2)])
    assert _bold(wide_table(df, "ref_rmse").to_table()) == {"NFE 4": "a,b"}  # both print as 0.1235
    assert _bold(wide_table(df, "nfe_measured").to_table()) == {"NFE 4": ""}  # direction "none"


def test_intervals_cell_and_across_seeds():
    one = pd.DataFrame([_row("m", "a", 4, ref_rmse=0.5, ref_rmse_lo=0.4, ref_rmse_hi=0.6),
                        _row("m", "b", 4, ref_rmse=0.7, ref_rmse_lo=0.65, ref_rmse_hi=0.75)])
    t = wide_table(one, "ref_rmse").to_table()
    assert t.rows == [["a", "**0.5** [0.4, 0.6]"], ["b", "0.7 [0.65, 0.75]"]]
    # three seeds: mean 2, sd 1, t(0.975, 2) = 4.302653 -> half width 4.302653 / sqrt(3) = 2.48414
    seeds = pd.DataFrame([_row("m", "a", 4, seed=s, ref_rmse=v) for s, v in enumerate([1.0, 2.0, 3.0])]
                         + [_row("m", "b", 4, seed=s, ref_rmse=9.0 + s) for s in range(3)])
    t = wide_table(seeds, "ref_rmse").to_table()
    assert t.header == ["ref_rmse ↓", "seeds", "NFE 4"]
    assert t.rows[0] == ["a", "3", "**2** [-0.4841, 4.484]"]
    md = blocks_to_markdown(results_blocks(seeds))
    assert "| ref_rmse ↓ | seeds | NFE 4 |" in md and "t-interval of the mean across seeds" in md


def test_adaptive_samplers_get_their_own_column():
    df = pd.DataFrame([_row("m", "euler", 4, ref_rmse=0.1), _row("m", "euler", 8, ref_rmse=0.05),
                       {**_row("m", "dopri5", None, ref_rmse=1e-6), "nfe_measured": 140}])
    t = wide_table(df, "ref_rmse")
    assert t.nfes == [4, 8, None]
    table = t.to_table()
    assert table.header == ["ref_rmse ↓", "NFE 4", "NFE 8", "adaptive"]
    assert table.rows[1] == ["dopri5", "—", "—", "1e-06 (NFE 140)"]


# -- LaTeX ----------------------------------------------------------------------------------------------
def _strip_escaped(tex: str) -> str:
    return re.sub(r"\\[{}&%$#_]", "", tex)


def check_booktabs(tex: str) -> int:
    """Structural check of every table in ``tex``: \\toprule, \\midrule, \\bottomrule in order inside
    each tabular, every row with as many cells as the column spec, balanced braces; returns the count."""
    body = _strip_escaped(tex)
    depth = 0
    for ch in body:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, "a closing brace without its opening one"
    assert depth == 0, "unbalanced braces"
    tabulars = re.findall(r"\\begin\{tabular\}\{([lcr]+)\}\n(.*?)\\end\{tabular\}", tex, flags=re.S)
    assert len(tabulars) == tex.count(r"\begin{table}") == tex.count(r"\end{table}")
    for spec, inner in tabulars:
        lines = inner.strip().split("\n")
        assert lines[0] == r"\toprule" and lines[2] == r"\midrule" and lines[-1] == r"\bottomrule", lines
        rows = [lines[1]] + lines[3:-1]
        assert len(rows) >= 2
        for r in rows:
            assert r.endswith(r" \\"), r
            assert _strip_escaped(r).count("&") + 1 == len(spec), (spec, r)
    return len(tabulars)


def test_latex_table_escapes_and_bolds(frame):
    frame = frame.assign(model="my_model & co")
    tex = latex_tables(frame, source="hand_made%.csv")
    assert check_booktabs(tex) == 3  # headline, ref_rmse, psnr
    text = "\n".join(ln for ln in tex.split("\n") if not ln.startswith(("%", r"\label")))
    assert r"my\_model \& co" in text and "my_model" not in text.replace(r"my\_model", "")
    assert r"\label{tab:rfbench-my_model---co-psnr}" in tex  # labels keep [A-Za-z0-9:._-] only
    assert r"ref\_rmse $\downarrow$ & NFE 4 & NFE 8 \\" in tex
    assert r"b & \textbf{0.1} & 0.05 \\" in tex  # ref_rmse: b best at NFE 4
    assert r"c & \textbf{30} & 25 \\" in tex       # psnr: c best at NFE 4
    assert all(line.startswith("%") for line in tex.split("\n")[:2])


def test_booktabs_check_catches_a_broken_table():
    good = table_to_latex(Table(["x", "NFE 4"], [["a", "**1**"]]))
    assert check_booktabs(good) == 1
    with pytest.raises(AssertionError):
        check_booktabs(good.replace(r"\textbf{1}", r"\textbf{1"))
    with pytest.raises(AssertionError):
        check_booktabs(good.replace(r"\begin{tabular}{lr}", r"\begin{tabular}{lrr}"))
    with pytest.raises(AssertionError):
        check_booktabs(good.replace("\\midrule\n", ""))
    with pytest.raises(ValueError):
        table_to_latex(Table(["x", "NFE 4"], [["a"]]))
    assert latex_escape("a_b & {c} 50% #1 $x ~^\\") == \
        r"a\_b \& \{c\} 50\% \#1 \$x \textasciitilde{}\textasciicircum{}\textbackslash{}"
    assert table_to_latex(Table(["x", "y"], [["[a]", "b"]])).count("{}[a]") == 1  # not \\'s optional argument


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (structure checked above)")
def test_latex_compiles(frame, tmp_path):
    doc = ("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
           + latex_tables(frame.assign(model="my_model")) + "\\end{document}\n")
    (tmp_path / "t.tex").write_text(doc)
    res = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-2000:]


# -- headline -------------------------------------------------------------------------------------------
def test_lead_metric_follows_the_registry():
    toy = pd.DataFrame([_row("m", "a", 4, ref_rmse=0.1, w2=0.2)])
    img = pd.DataFrame([_row("m", "a", 4, ref_rmse=0.1, fd_digits=3.0, psnr=20.0)])
    assert lead_metric(toy) == "ref_rmse" and lead_metric(img) == "fd_digits"
    assert lead_metric(img.assign(fd_digits=float("nan"))) == "ref_rmse"


def _cells(values: dict, plan: BootstrapPlan, metric="ref_rmse"):
    return [{"model": "m", "data": "", "sampler": s, "nfe": n, "seed": seed, "status": "ok",
             "replicates": {metric: mean_replicates(v, plan)}} for (s, n, seed), v in values.items()]


def test_headline_best_and_indistinguishable_samplers():
    """At NFE 8: a best; b = a plus zero-mean noise plus 1e-4 (not distinguishable); c = a + 0.5
    (clearly worse). The paired comparison must put b, and only b, with a."""
    rng = np.random.default_rng(0)
    n = 200
    a = rng.uniform(0.0, 1.0, n)
    noise = rng.normal(0.0, 0.01, n)
    b = a + noise - noise.mean() + 1e-4
    c = a + 0.5
    vals = {("a", 8, 0): a, ("b", 8, 0): b, ("c", 8, 0): c}
    df = pd.DataFrame([_row("m", s, nfe, seed=seed, ref_rmse=float(v.mean())) for (s, nfe, seed), v in vals.items()])
    (e,) = headline(df, _cells(vals, BootstrapPlan(n, 400, 0)))
    assert (e.nfe, e.sampler, e.metric, e.tied) == (8, "a", "ref_rmse", ["b"])
    (e,) = headline(df)  # no cell records: best only, nothing claimed about ties
    assert e.sampler == "a" and e.tied is None


def test_headline_separates_many_samplers():
    """Twenty samplers, each 0.05 worse than the last on the same noise: only the nearest can be tied
    with the best. (Holm over all 190 pairs with B = 400 would call every pair indistinguishable: a
    bootstrap p-value is at least 2 / 401, times 190 is above 0.05.)"""
    rng = np.random.default_rng(1)
    n = 300
    base = rng.uniform(0.0, 1.0, n)
    vals = {(f"s{i:02d}", 4, 0): base + 0.05 * i + rng.normal(0.0, 0.02, n) for i in range(20)}
    df = pd.DataFrame([_row("m", s, nfe, seed=seed, ref_rmse=float(v.mean())) for (s, nfe, seed), v in vals.items()])
    (e,) = headline(df, _cells(vals, BootstrapPlan(n, 400, 0)))
    assert e.sampler == "s00" and e.tied == []


def test_headline_ties_must_hold_in_every_seed():
    """Seed 0: b is a with a little noise (tied); seed 1: b is a + 0.3 (not tied): b is not listed."""
    rng = np.random.default_rng(2)
    n = 200
    a0, a1 = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    b0 = a0 + rng.normal(0.0, 0.01, n)
    b0 += a0.mean() - b0.mean() + 1e-4
    vals = {("a", 8, 0): a0, ("b", 8, 0): b0, ("a", 8, 1): a1, ("b", 8, 1): a1 + 0.3}
    df = pd.DataFrame([_row("m", s, nfe, seed=seed, ref_rmse=float(v.mean())) for (s, nfe, seed), v in vals.items()])
    cells = _cells(vals, BootstrapPlan(n, 400, 0))
    (e,) = headline(df, cells)
    assert e.sampler == "a" and e.tied == [] and e.cell.how == "seeds" and e.cell.n_seeds == 2
    (e,) = headline(df[df["seed"] == 0], [c for c in cells if c["seed"] == 0])
    assert e.tied == ["b"]


def test_headline_takes_the_direction_and_every_nfe(frame):
    entries = {(e.nfe): e.sampler for e in headline(frame)}
    assert entries == {4: "b", 8: "a"}  # lead metric ref_rmse (no fid / fd_digits here)
    img = frame.rename(columns={"ref_rmse": "unused"}).assign(fd_digits=[5.0, 4.0, 3.0, 1.0, 2.0, 9.0])
    assert {e.nfe: e.sampler for e in headline(img)} == {4: "c", 8: "a"}
    assert {t.metric for t in wide_tables(img)} == {"fd_digits", "psnr"}


# -- the report -----------------------------------------------------------------------------------------
@pytest.fixture
def run_dir(tmp_path, frame):
    run = tmp_path / "run"
    run.mkdir()
    frame = pd.concat([frame.assign(wall_clock_s=0.01 * frame["nfe"]),
                       pd.DataFrame([_row("toy_model", "d", 4, seed=1, ref_rmse=0.25, psnr=22.0)])])
    frame.to_csv(run / "results.csv", index=False)
    return run


def test_report_opens_with_headline_then_figures_then_tables(run_dir):
    res = build_report(run_dir)
    md = res["md"].read_text()
    h2 = re.findall(r"^## (.+)$", md, flags=re.M)
    assert h2[0].startswith("Headline") and h2[1] == "Figures" and h2[2] == "Results", h2
    assert h2.index("Convergence order (analytic models)") > 2 and h2[-2:] == ["Protocol", "Environment"]
    first_image = md.index("![")
    assert md.index("## Headline") < first_image < md.index("## Results") < md.index("| ref_rmse ↓ |")
    # the headline table: NFE rows, the best ref_rmse sampler (b at 4, a at 8)
    assert "| NFE | toy_model: ref_rmse ↓ |" in md
    assert "| 4 | **b** 0.1 |" in md and "| 8 | **a** 0.01 |" in md
    html = res["html"].read_text()
    assert html.index("<h2>Headline") < html.index("<img") < html.index("<h2>Results")
    # report.html's first screen: the headline table and the first figure side by side in one row
    # (a flex row, whatever the table's length), before the Figures heading
    cols = html.index("<div class='cols'>")
    assert cols < html.index("<table>") < html.index("<img") < html.index("<h2>Figures")
    assert ".cols{display:flex" in html
    tex = res["tex"].read_text()
    assert res["tex"] == run_dir / "report" / "tables.tex" and check_booktabs(tex) == 4  # + wall clock
    assert "`report/tables.tex`" in md


def test_unmatched_comparison_is_one_line(run_dir):
    md = build_report(run_dir)["md"].read_text()
    section = md.split("## Comparison with published numbers\n", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("No measured value has a published counterpart")
    assert "no published row" not in md.replace(lines[0], "")
    assert (run_dir / "comparison.csv").is_file()  # the detail is kept there


def test_report_cli_names_the_latex_file(run_dir, capsys):
    from rfbench.cli import main

    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "LaTeX tables" in out and str(run_dir / "report" / "tables.tex") in out
