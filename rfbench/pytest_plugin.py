"""rfbench's pytest plugin: run a registered suite as parametrized tests, one test per cell.

A test taking the ``rfbench_cell`` fixture (the repository's ``suites/test_suite.py``) runs the suite
named by ``--rfbench-suite NAME`` (or by its module's ``RFBENCH_SUITE = "<name>"``, which the option
overrides). The plugin parametrizes it over the suite's cells (ids like
``1-rf@8gaussians-heun-nfe8-seed0``, so ``-k`` selects cells), shares models and reference
solutions across the session, persists every finished cell, and writes results.csv, results.md
and plots to ``--rfbench-out`` when the session ends.

Options: --rfbench-suite NAME, --rfbench-out DIR, --rfbench-device cpu|cuda, --rfbench-nfe 2,4,8, --rfbench-quick,
--rfbench-models, --rfbench-samplers, --rfbench-seeds, --rfbench-force, --rfbench-smoke,
--rfbench-set KEY=VALUE (repeatable). A suite that cannot run here (SuiteSkipped) is one skipped test.
A bad option value is a usage error naming the option (pytest exits 4); a failure of the machine during a
cell (full disk, unusable cache, out of memory) stops the session with exit status 3 and records nothing
for that cell, as ``rfbench run`` does.

This module is loaded in every pytest session of an environment where rfbench is installed, so
it imports nothing heavy until a suite file is collected.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

_STATE = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("rfbench", "rfbench benchmark suites")
    group.addoption("--rfbench-suite", default=None, metavar="NAME",
                    help="the registered suite to run as tests (rfbench list suites)")
    group.addoption("--rfbench-out", default=None, help="output folder (default rfbench-out/<suite>)")
    group.addoption("--rfbench-device", default=None, help="cpu, cuda or cuda:N (default: the suite's)")
    group.addoption("--rfbench-nfe", default=None, help="comma-separated NFE list, e.g. 2,4,8")
    group.addoption("--rfbench-quick", action="store_true", help="the suite's quick configuration")
    group.addoption("--rfbench-models", default=None, help="comma-separated model names (name or name@data)")
    group.addoption("--rfbench-samplers", default=None, help="comma-separated sampler names")
    group.addoption("--rfbench-seeds", default=None, help="comma-separated seeds")
    group.addoption("--rfbench-force", action="store_true", help="recompute cells that have fresh records")
    group.addoption("--rfbench-smoke", action="store_true", help="the suite's smoke configuration")
    group.addoption("--rfbench-set", action="append", default=None, metavar="KEY=VALUE", help="a suite option")


def pytest_configure(config):
    config.addinivalue_line("markers", "rfbench_cell: a cell of an rfbench suite")
    config.stash[_STATE] = {}


def _split(text, option: str, cast=str):
    if text is None:
        return None
    try:
        return [cast(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        what = "integers" if cast is int else "values"
        raise pytest.UsageError(f"rfbench: {option} expects a comma-separated list of {what}, got {text!r}") from None


# the CLI's flag names in rfbench's messages, as this plugin spells them
_FLAGS = re.compile(r"(?<![\w-])--(nfe|seeds|models|samplers|device|set|out|smoke|quick|n-samples|checkpoint)\b")


def _usage(text: str) -> pytest.UsageError:
    return pytest.UsageError("rfbench: " + _FLAGS.sub(r"--rfbench-\1", text))


def _suite_state(config, name: str) -> dict:
    state = config.stash[_STATE]
    if name not in state:
        from rfbench import suites  # noqa: F401  (registers the built-in suites)
        from rfbench.errors import RFBenchError, SuiteSkipped
        from rfbench.runner import SweepContext
        from rfbench.runner.records import CellStore
        from rfbench.runner.suite import SUITES, get_suite

        bad = [kv for kv in config.getoption("rfbench_set") or [] if "=" not in kv or not kv.split("=", 1)[0].strip()]
        if bad:  # never drop a setting silently
            raise pytest.UsageError(f"rfbench: --rfbench-set expects KEY=VALUE, got {bad[0]!r}")
        if name not in SUITES:
            raise pytest.UsageError(f"rfbench: --rfbench-suite {name!r} is not a registered suite; registered: "
                                    f"{', '.join(SUITES)}")
        try:
            from rfbench.cli import _out_folder

            options = {k.strip(): v for k, v in (kv.split("=", 1) for kv in config.getoption("rfbench_set") or [])}
            suite = get_suite(name).configure(
                quick=config.getoption("rfbench_quick"),
                smoke=config.getoption("rfbench_smoke"),
                nfe=_split(config.getoption("rfbench_nfe"), "--rfbench-nfe", int),
                models=_split(config.getoption("rfbench_models"), "--rfbench-models"),
                samplers=_split(config.getoption("rfbench_samplers"), "--rfbench-samplers"),
                seeds=_split(config.getoption("rfbench_seeds"), "--rfbench-seeds", int),
                options=options or None,
            )
            device = config.getoption("rfbench_device") or suite.default_device
            out = _out_folder(config.getoption("rfbench_out") or Path("rfbench-out") / name, "--rfbench-out")
            suite = suite.prepared(device)
            ctx = SweepContext(suite, device=device, progress=False, out_dir=out)
            from rfbench import cache

            cache.check_usable()
            store = CellStore(out)
        except SuiteSkipped as exc:
            state[name] = {"skipped": str(exc), "rows": {}}
            return state[name]
        except RFBenchError as exc:
            raise _usage(str(exc)) from None
        except OSError as exc:
            from rfbench.errors import resource_cause

            raise _usage(resource_cause(exc)) from None
        state[name] = {"suite": suite, "ctx": ctx, "store": store, "out": out, "rows": {}, "ran": 0}
    return state[name]


def pytest_generate_tests(metafunc):
    if "rfbench_cell" not in metafunc.fixturenames:
        return
    name = metafunc.config.getoption("rfbench_suite") or getattr(metafunc.module, "RFBENCH_SUITE", None)
    try:
        if name is None:
            raise pytest.UsageError(f"rfbench: {metafunc.module.__name__} runs a suite's cells: name the suite "
                                    "with --rfbench-suite NAME (rfbench list suites)")
        state = _suite_state(metafunc.config, name)
    except pytest.UsageError as exc:
        # raised while a file is collected it would be a collection error with a traceback: raised again
        # once collection ends (pytest_collection_modifyitems), it is pytest's one-line usage error
        metafunc.config.stash[_STATE].setdefault("_usage", exc)
        metafunc.parametrize("rfbench_cell", [], indirect=True)
        return
    if "skipped" in state:
        metafunc.parametrize("rfbench_cell", [pytest.param(None, marks=pytest.mark.skip(reason=state["skipped"]))],
                             ids=[f"{name}-skipped"], indirect=True)
        return
    cells = state["suite"].cells()
    metafunc.parametrize("rfbench_cell", [(name, c) for c in cells], ids=[c.id for c in cells], indirect=True)


def pytest_collection_modifyitems(session, config, items):
    error = config.stash.get(_STATE, {}).get("_usage")
    if error is not None:
        raise error


class CellHandle:
    """What a suite test receives: ``run()`` computes (or reuses) the cell and returns its row."""

    def __init__(self, state: dict, cell, force: bool):
        self.state, self.cell, self.force = state, cell, force

    def run(self) -> dict:
        from rfbench.errors import ResourceError
        from rfbench.runner import execute_cell

        try:
            row, ran = execute_cell(self.state["ctx"], self.state["store"], self.cell, force=self.force)
        except ResourceError as exc:  # the machine failed, not the cell: stop the session (exit status 3)
            pytest.exit(f"rfbench: {exc}", returncode=3)
        self.state["rows"][self.cell.key] = row
        self.state["ran"] += ran
        return row


@pytest.fixture
def rfbench_cell(request):
    name, cell = request.param
    state = _suite_state(request.config, name)
    return CellHandle(state, cell, request.config.getoption("rfbench_force"))


def pytest_sessionfinish(session, exitstatus):
    from_state = session.config.stash.get(_STATE, {})
    for name, state in from_state.items():
        if not isinstance(state, dict) or not state.get("rows"):
            continue
        from rfbench.runner import write_outputs

        order = [c.key for c in state["suite"].cells() if c.key in state["rows"]]
        rows = [state["rows"][cid] for cid in order]
        summary = {"cells": len(rows), "computed": state["ran"], "reused": len(rows) - state["ran"],
                   "failed": sum(r["status"] == "failed" for r in rows)}
        result = write_outputs(rows, state["out"], name, summary, metrics=state["suite"].metrics,
                               facts=state["suite"].facts())
        state["written"] = result


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for name, state in config.stash.get(_STATE, {}).items():
        if isinstance(state, dict) and "written" in state:
            terminalreporter.write_sep("-", f"rfbench suite {name}")
            terminalreporter.write_line(f"results: {state['written']['csv']}  ({len(state['rows'])} cells)")
            terminalreporter.write_line(f"table:   {state['written']['md']}")
