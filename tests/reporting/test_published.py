"""results/published.csv: every row validates against the schema, is cited, and carries a protocol."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from rfbench.errors import InvalidInputError
from rfbench.reporting.published import (
    COLUMNS, FID_IMPLS, INCEPTION_METRICS, NFE_COUNTING, TIMING_METRICS, default_published_path, load_published,
    validate_published,
)


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_csv(default_published_path(), dtype=str, keep_default_na=False)


def test_file_validates(raw):
    assert list(raw.columns) == COLUMNS
    assert validate_published(raw) == []
    assert len(load_published()) == len(raw)


def test_every_row_is_cited(raw):
    for r in raw.itertuples():
        assert re.fullmatch(r"\d{4}\.\d{4,5}", r.arxiv), r.id
        assert r.table.strip() and r.source.strip(), r.id
        # the citation names the paper, a README or a model card
        assert re.search(r"arxiv|readme|model card", r.source, re.I), r.id
        # verified is honest: secondary rows say so, primary rows name what they were checked against
        assert r.verified in ("yes", "no"), r.id
        if r.verified == "no":
            assert r.verified_against.startswith("none"), r.id
        else:
            assert not r.verified_against.startswith("none"), r.id


def test_every_row_has_a_protocol(raw):
    for r in raw.itertuples():
        assert r.nfe_counting in NFE_COUNTING, r.id
        assert r.nfe.isdigit() or r.nfe_counting in ("not-stated", "n/a"), r.id
        assert r.fid_impl in FID_IMPLS, r.id
        assert r.conditioning and r.dataset and r.resolution and r.grid and r.guidance, r.id
        if r.metric in INCEPTION_METRICS:
            assert r.fid_impl != "n/a" and r.n_samples != "n/a", r.id
        if r.metric == "fid":
            assert r.reference_set != "n/a", r.id
        if r.metric in TIMING_METRICS:
            assert r.hardware != "n/a", r.id
        float(r.value)  # one number per row


def test_covers_the_registered_families_and_samplers(raw):
    variants = set(zip(raw["family"], raw["variant"]))
    for key in [("rectified-flow", v) for v in ("1-rf", "2-rf", "3-rf", "1-rf-distill", "2-rf-distill",
                                                 "3-rf-distill", "2-rf++")] + [
            ("rectified-diffusion", "rectified-diffusion"), ("pfgmpp", "pfgmpp-d128"), ("pfgmpp", "pfgmpp-d2048"),
            ("pfgmpp", "edm"), ("slimflow", "slimflow-15.7m"), ("rectified-flow", "2-rf-distill")]:
        assert key in variants, key
    samplers = set(raw["sampler"])
    assert {"euler", "dopri5", "edm-heun", "ddim", "dpm-solver-fast", "dpm-solver-2", "dpm-solver-3", "dpm-solver++",
            "rf-solver", "heun", "boss", "flowturbo"} <= samplers
    papers = set(raw["arxiv"])
    assert {"2209.03003", "2405.20320", "2410.07303", "2302.04265", "2206.00364", "2206.00927", "2211.01095",
            "2411.04746", "2312.16414", "2409.18128", "2407.12718", "2309.06380"} <= papers


def test_headline_values_as_published(raw):
    """Spot checks of primary-source values (abstracts / official READMEs)."""
    def value(**kw):
        sel = raw
        for k, v in kw.items():
            sel = sel[sel[k] == v]
        assert len(sel) == 1, kw
        return sel.iloc[0]

    assert value(id="rf-2-rf-distill-cifar10-euler-1-fid")["value"] == "4.85"
    assert value(family="pfgmpp", variant="edm", arxiv="2206.00364", conditioning="unconditional")["value"] == "1.97"
    edm = value(family="pfgmpp", variant="edm", arxiv="2206.00364", conditioning="unconditional")
    assert (edm["nfe"], edm["seed_policy"], edm["fid_impl"]) == ("35", "min-of-3", "edm-fid")
    assert value(family="diffusion", sampler="dpm-solver-fast", nfe="10", arxiv="2206.00927")["value"] == "4.70"


@pytest.mark.parametrize("column,bad,message", [
    ("nfe_counting", "steps-ish", "nfe_counting"),
    ("value", "about 3", "not a number"),
    ("verified", "no", "verified_against"),            # a primary row relabelled 'no' without saying 'none'
    ("source", "somebody's blog", "must cite"),
    ("fid_impl", "n/a", "needs fid_impl"),
    ("arxiv", "arXiv:2209.03003", "arXiv id"),
    ("id", "rf-1-rf-cifar10-dopri5-127-is", "duplicate id"),
])
def test_validator_catches_broken_rows(raw, column, bad, message):
    broken = raw.copy()
    broken.loc[0, column] = bad  # row 0 is RF's 1-RF RK45 FID (verified, FID)
    problems = validate_published(broken)
    assert any(message in p for p in problems), problems


def test_missing_or_malformed_file_is_one_clear_error(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_published(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("paper,value\nx,1\n")
    with pytest.raises(InvalidInputError, match=r"bad\.csv is malformed: missing columns"):
        load_published(bad)
