"""The ``rfbench`` command line.

    rfbench list [models|samplers|suites|metrics|grids|datasets] [CHECKPOINT OPTIONS]
    rfbench run SUITE [--quick|--smoke] [--device cpu|cuda] [--out DIR] [--nfe 2,4,8] [--models ...] [--samplers ...]
                      [--set KEY=VALUE ...] [CHECKPOINT OPTIONS]
    rfbench train MODEL [--data DATA] [--data-path PATH] [--steps N] [--seed S] [--device cpu|cuda] [CHECKPOINT OPTIONS]
    rfbench inspect PATH [--checkpoint-config PRESET|JSON]
    rfbench reproduce ROW_ID --checkpoint PATH [--checkpoint-config ...] [--out DIR] [--n-samples N] [--smoke]
    rfbench reproduce --list
    rfbench compare RESULTS [--published CSV] [--out DIR] [--map NAME=FAMILY/VARIANT] [--all-published]
    rfbench report DIR [--published CSV] [--out DIR] [--map NAME=FAMILY/VARIANT]
    rfbench launch {slurm,local} [--jobs N] [--gpus-per-job G] [--partition P] [--time T] [--dry-run] SUITE [run options]

Many ``rfbench run`` processes with the same arguments share the cells of one --out folder (claims);
``--shard I/N`` gives a worker a fixed partition; ``torchrun -m rfbench run`` splits each cell's samples
over ranks (docs/cluster.md).

CHECKPOINT OPTIONS (run, list, train): ``--checkpoint NAME=PATH`` (repeatable) registers a checkpoint
under NAME through rfbench.models.formats.register_checkpoint, its format detected from the file (the
released RectifiedFlow / score_sde / EDM / PFGM++ / 2-RF++ files, diffusers folders, rfbench files);
``--checkpoint-config [NAME=]PRESET|JSON`` names a weights-only file's configuration (a preset, or a JSON
object / @file of register_checkpoint's options); ``--checkpoints FILE`` or $RFBENCH_CHECKPOINTS registers
the checkpoints listed in a JSON file. Suites that load checkpoints (cifar10) benchmark every
``--checkpoint``; other suites take them by ``--models NAME``.

Checkpoints are read with weights-only deserialisation; ``--allow-unsafe-load`` accepts files that need
full unpickling (only for files you trust; a warning is printed once per file).

Exit codes: 0 done (or a suite skipped with its one-line reason); 2 bad input (unknown names, bad values,
missing files, argparse's own errors); 3 the machine failed, not the input or a cell (a full disk, a
read-only or unusable cache or output folder, out of memory): nothing is recorded for the cell it hit and
a rerun after the cause is gone resumes; 130 interrupted (Ctrl-C, SIGINT); 143 terminated (SIGTERM).
Errors print one line, ``rfbench: error: ...``; warnings print as ``rfbench: warning: ...``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import warnings

from .errors import InvalidInputError, ResourceError, RFBenchError, SuiteSkipped

EXIT_INPUT, EXIT_RESOURCE, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 3, 130, 143
MAX_TRAIN_STEPS = 10_000_000  # 25x EDM's CIFAR-10 schedule (200 M images at batch 512 = 390k steps)
MAX_SEED = 2**63 - 1


class _Parser(argparse.ArgumentParser):
    """argparse with rfbench's one-line errors: ``rfbench: error: ...`` (and a pointer to ``-h``), exit 2,
    instead of the usage block followed by the message."""

    def error(self, message: str):  # noqa: D102 - argparse API
        self.exit(2, f"rfbench: error: {message} (see `{self.prog} -h`)\n")


def _csv(cast=str, what="value"):
    def parse(text: str):
        items = [v.strip() for v in text.split(",") if v.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {what}s, got {text!r}")
        try:
            return [cast(v) for v in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {what}s, got {text!r}") from None
    return parse


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*map(str, r)) for r in rows])


def cmd_list(args) -> int:
    from .data import DATASETS
    from .metrics import METRICS
    from .models import MODELS
    from .samplers import GRIDS, SAMPLERS
    from .suites import SUITES

    what = args.what
    sections = []
    if what in (None, "models"):
        rows = [[e.name, e.kind, e.family, ",".join(e.datasets) if e.datasets else e.default_data or "",
                 e.description] for e in (MODELS.get(n) for n in MODELS)]
        rows += [[n, "plugin", "", "", "entry point (rfbench.models), loaded when used"] for n in _plugin_names("models", MODELS)]
        sections.append(("models", _table(rows, ["name", "kind", "family", "data", "description"])))
    if what in (None, "samplers"):
        rows = []
        for n in SAMPLERS:
            s = SAMPLERS.get(n)
            rows.append([s.name, "-" if s.order is None else s.order, s.nfe_per_step, s.default_grid, s.paper])
        from .samplers.adapters import entries  # what the installed diffusers / k-diffusion offer

        for name, why in entries():
            s = None if why else SAMPLERS.get(name)
            rows.append([name, "-", "-", "-", f"refused: {why}"] if s is None else
                        [name, "-" if s.order is None else s.order, s.nfe_per_step, s.default_grid, s.paper])
        rows += [[n, "", "", "", "entry point (rfbench.samplers), loaded when used"] for n in _plugin_names("samplers", SAMPLERS)]
        sections.append(("samplers", _table(rows, ["name", "order", "NFE per step", "grid", "reference"])))
    if what in (None, "suites"):
        rows = [[s.name, len(s.models), len(s.samplers), ",".join(map(str, s.nfe)), s.description]
                for s in (SUITES.get(n) for n in SUITES)]
        sections.append(("suites", _table(rows, ["name", "models", "samplers", "nfe", "description"])))
    if what in (None, "metrics"):
        rows = [[m.name, m.description] for m in (METRICS.get(n) for n in METRICS)]
        sections.append(("metrics", _table(rows, ["name", "description"])))
    if what in (None, "grids"):
        rows = [[g, (GRIDS.get(g).__doc__ or "").strip().splitlines()[0]] for g in GRIDS]
        sections.append(("grids", _table(rows, ["name", "description"])))
    if what in (None, "datasets"):
        rows = [[d.name, "x".join(map(str, d.shape)), d.description] for d in (DATASETS.get(n) for n in DATASETS)]
        sections.append(("datasets", _table(rows, ["name", "shape", "description"])))
    for title, text in sections:
        print(f"== {title} ==\n{text}\n")
    return 0


def _plugin_names(kind: str, registry) -> list[str]:
    """Entry-point names of installed packages not registered yet (listed without importing them)."""
    from .plugins import entry_point_names

    return [n for n in entry_point_names(f"rfbench.{kind}") if n not in registry]


def _key_values(items: list[str] | None, flag: str, form: str = "KEY=VALUE") -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"{flag} expects {form}, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _out_folder(path, flag: str = "--out"):
    """``path`` as a folder to write into: it may not exist yet, but it (and every parent that exists)
    must not be a regular file. Checked before any work starts, so a typo costs nothing."""
    from pathlib import Path

    path = Path(path).expanduser()
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                where = "" if p == path else f": {p}"
                raise InvalidInputError(f"{flag} {path}{where} is a file; expected a folder (created if missing)")
            break
    return path


def cmd_run(args) -> int:
    from .runner import default_out_dir, run_suite
    from .suites import get_suite

    suite = get_suite(args.suite)  # fail fast on an unknown name
    options = _key_values(args.set, "--set")
    if args.checkpoint and "checkpoints" in suite.options:  # registered by main(); the suite takes the names
        options["checkpoints"] = ",".join(n for n, _ in _checkpoint_items(args))
    if args.device is not None:
        from .runner.sweep import parse_device

        parse_device(args.device)
    out = _out_folder(args.out or default_out_dir(args.suite))
    from .runner import distributed
    from .runner.workers import parse_shard

    shard = parse_shard(args.shard)  # --shard, torchrun
    if args.claim_timeout is not None and not args.claim_timeout > 0:
        raise InvalidInputError(f"--claim-timeout must be a positive number of seconds, got {args.claim_timeout}")
    device = args.device
    if distributed.env_world()[1] > 1:  # started by torchrun: one process group, rank 0 records
        device = distributed.init_from_env(device or suite.configure(quick=args.quick, smoke=args.smoke).default_device)
    start = time.perf_counter()
    try:
        result = run_suite(args.suite, quick=args.quick, smoke=args.smoke, device=device if args.device or
                           distributed.active() else None, out=out, nfe=args.nfe, models=args.models,
                           samplers=args.samplers, seeds=args.seeds, n_samples=args.n_samples, force=args.force,
                           progress=not args.no_progress, options=options or None, shard=shard,
                           claim_timeout=args.claim_timeout, wait=not args.no_wait,
                           intervals=_interval_settings(args))
    except SuiteSkipped as exc:
        print(f"{args.suite}: skipped: {exc}")
        return 0
    finally:
        distributed.shutdown()
    if distributed.env_world()[0] != 0:
        return 0  # rank 0 reports
    s = result["summary"]
    extra = f", {s['taken_over']} taken over from dead workers" if s.get("taken_over") else ""
    part = f" (shard {s['shard']}: {s['mine']} of them)" if s.get("shard") else ""
    print(f"{args.suite}: {s['cells']} cells{part} ({s['computed']} computed, {s['reused']} reused, {s['failed']} "
          f"failed{extra}) in {time.perf_counter() - start:.1f} s")
    if result["csv"] is not None:
        print(f"wrote {result['csv']}, {result['md']}" + "".join(f", {p}" for p in result["plots"]))
    else:
        print(f"cells of other workers still running; the last worker to finish writes {out}/results.csv "
              f"(or run `rfbench report {out}` once they are done)")
    return 0


def _interval_settings(args):
    """``--no-intervals``, ``--bootstrap B``, ``--ci-level`` -> IntervalSettings."""
    from .runner.intervals import DEFAULT_SETTINGS, OFF, IntervalSettings

    if args.no_intervals:
        return OFF
    s = DEFAULT_SETTINGS.with_B(args.bootstrap)
    return s if args.ci_level is None else IntervalSettings(s.enabled, s.B, s.B_frechet, args.ci_level)


def cmd_compare_samplers(args) -> int:
    from .reporting.paired import compare_samplers_text
    from .runner.intervals import load_cells

    level = 0.95 if args.ci_level is None else args.ci_level
    if not 0.5 <= level < 1:
        raise InvalidInputError(f"--ci-level must be in [0.5, 1), got {level}")
    text, _ = compare_samplers_text(load_cells(args.dir), args.dir, nfe=args.nfe, metrics=args.metric, level=level)
    print(text)
    return 0


# -- checkpoints (one entry point: rfbench.models.formats.register_checkpoint) ---------------------------
def _checkpoint_configs(args) -> dict[str | None, dict]:
    """``--checkpoint-config [NAME=]VALUE`` -> {name or None: register_checkpoint options}; VALUE is a preset
    name, a JSON object, or @FILE holding one."""
    import json
    from pathlib import Path

    from .models.formats import PRESETS

    out: dict[str | None, dict] = {}
    for text in getattr(args, "checkpoint_config", None) or []:
        name, value = None, text.strip()
        if not (value.startswith("{") or value.startswith("@") or value in PRESETS):
            head, sep, tail = value.partition("=")
            if sep and head.strip():
                name, value = head.strip(), tail.strip()
        if value in PRESETS:
            opts = {"preset": value}
        else:
            raw = value
            if value.startswith("@"):
                file = Path(value[1:]).expanduser()
                if not file.is_file():
                    raise InvalidInputError(f"--checkpoint-config {text}: {file} does not exist")
                raw = file.read_text()
            try:
                opts = json.loads(raw)
            except json.JSONDecodeError:
                opts = None
            if not isinstance(opts, dict):
                raise InvalidInputError(f"--checkpoint-config expects [NAME=]PRESET, a JSON object or @FILE.json, got "
                                        f"{text!r} (presets: {', '.join(PRESETS)})")
            bad = sorted(set(opts) & {"name", "path"})
            if bad:
                raise InvalidInputError(f"--checkpoint-config {text!r}: {bad[0]!r} is given by --checkpoint NAME=PATH")
        out[name] = {**out.get(name, {}), **opts}
    return out


def _checkpoint_items(args) -> list[tuple[str, object]]:
    from .models.formats import parse_checkpoint_args

    return parse_checkpoint_args(getattr(args, "checkpoint", None))


def _register_checkpoints(args) -> list[str]:
    """Register ``--checkpoints FILE`` / $RFBENCH_CHECKPOINTS and every ``--checkpoint NAME=PATH``;
    returns the names of the latter."""
    import os

    from .models.formats import register_checkpoint, register_checkpoints_file
    from .registry import check_name

    unsafe = getattr(args, "allow_unsafe_load", False)
    for path in [os.environ.get("RFBENCH_CHECKPOINTS"), getattr(args, "checkpoints", None)]:
        if path:
            register_checkpoints_file(path, replace=True, allow_unsafe=unsafe)
    items = _checkpoint_items(args)
    configs = _checkpoint_configs(args)
    names = [n for n, _ in items]
    unknown = sorted(k for k in configs if k is not None and k not in names)
    if unknown:
        raise InvalidInputError(f"--checkpoint-config names {unknown[0]!r}, which no --checkpoint NAME=PATH gives")
    if None in configs and len(items) != 1:
        raise InvalidInputError("--checkpoint-config without NAME= needs exactly one --checkpoint; write NAME=VALUE")
    for name, path in items:
        check_name(name, "model")
        if not path.exists():
            raise InvalidInputError(f"checkpoint {name}: {path} does not exist")
        opts = {**configs.get(None, {}), **configs.get(name, {})}
        register_checkpoint(name, path, replace=True, allow_unsafe=unsafe, **opts)
    return names


def _precheck_checkpoints(args) -> None:
    """Before anything is loaded: ``run`` on a suite that neither loads checkpoints nor selects them."""
    if getattr(args, "command", None) != "run" or not getattr(args, "checkpoint", None):
        return
    from .suites import SUITES, get_suite

    suite = get_suite(args.suite)
    if "checkpoints" in suite.options:
        return
    names = [n for n, _ in _checkpoint_items(args)]
    chosen = {m.partition("@")[0] for m in args.models or []}
    if not set(names) <= chosen:
        loaders = [n for n in SUITES if "checkpoints" in SUITES.get(n).options]
        raise InvalidInputError(f"--checkpoint: suite {args.suite!r} does not load checkpoints (suites that do: "
                                f"{', '.join(loaders) or 'none'}); select yours with --models NAME")


def cmd_inspect(args) -> int:
    from .models.formats import inspect_checkpoint

    configs = _checkpoint_configs(args)
    if any(k is not None for k in configs):
        raise InvalidInputError("inspect: --checkpoint-config takes PRESET, a JSON object or @FILE (no NAME=)")
    print(inspect_checkpoint(args.path, **configs.get(None, {})).summary())
    return 0


def cmd_reproduce(args) -> int:
    from .suites.recipes import RECIPES, list_recipes, reproduce

    if args.list:
        print(list_recipes())
        return 0
    if not args.row_id:
        raise InvalidInputError(f"reproduce: give a published row id (rfbench reproduce --list; {len(RECIPES)} recipes)")
    if not args.checkpoint or len(args.checkpoint) != 1:
        raise InvalidInputError("reproduce: give the released checkpoint once, --checkpoint PATH")
    configs = _checkpoint_configs(args)
    if any(k is not None for k in configs):
        raise InvalidInputError("reproduce: --checkpoint-config takes PRESET, a JSON object or @FILE (no NAME=)")
    out = _out_folder(args.out) if args.out else None
    try:
        res = reproduce(args.row_id, args.checkpoint[0], out=out, n_samples=args.n_samples, device=args.device,
                        progress=not args.no_progress, options=_key_values(args.set, "--set") or None,
                        checkpoint_options=configs.get(None, {}), allow_unsafe=args.allow_unsafe_load, smoke=args.smoke)
    except SuiteSkipped as exc:
        print(f"{args.row_id}: skipped: {exc}")
        return 0
    print(res["summary"])
    return 0


def cmd_train(args) -> int:
    from .models import MODELS, get_model

    if args.data_path is not None:
        from .data import register_image_dataset

        if args.data is None:
            raise InvalidInputError("--data-path needs --data NAME: the name to register the images under")
        register_image_dataset(args.data, args.data_path, replace=True)
    entry = MODELS.get(args.model)
    if args.steps is not None and args.steps < 1:
        raise InvalidInputError(f"--steps must be a positive integer, got {args.steps}")
    if args.steps is not None and args.steps > MAX_TRAIN_STEPS:
        raise InvalidInputError(f"--steps must be at most {MAX_TRAIN_STEPS:,}, got {args.steps:,}")
    if args.seed is not None and args.seed < 0:
        raise InvalidInputError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.seed is not None and args.seed > MAX_SEED:
        raise InvalidInputError(f"--seed must be below 2**63, got {args.seed}")
    if args.device is not None:
        from .runner.sweep import parse_device

        parse_device(args.device)
    if entry.kind != "trained":
        raise InvalidInputError(f"model {args.model!r} is {entry.kind}; only trained models can be trained "
                                f"({', '.join(n for n in MODELS if MODELS.get(n).kind == 'trained')})")
    opts = {"progress": not args.no_progress}
    if args.steps is not None:
        opts["steps"] = args.steps
    if args.seed is not None:
        opts["seed"] = args.seed
    if args.device is not None:
        opts["device"] = args.device
    model = get_model(args.model, data=args.data, **opts)
    meta = getattr(model, "meta", {})
    hit = meta.get("cache_hit")
    pairs = meta.get("pairs_seconds")
    print(f"{args.model} on {getattr(model, 'dataset', args.data)}: "
          + ("loaded from cache" if hit else f"trained in {meta.get('seconds', float('nan')):.1f} s"
             + (f" (+ {pairs:.1f} s solving pairs)" if pairs else "")
             + f", final loss {meta.get('final_loss', float('nan')):.4f}")
          + f"; checkpoint {meta.get('checkpoint', '?')}")
    return 0


def cmd_compare(args) -> int:
    from pathlib import Path

    from .reporting import compare_files, parse_model_map

    comp = compare_files(args.results, args.published, model_map=parse_model_map(args.map),
                         all_published=args.all_published)
    out = _out_folder(args.out) if args.out else Path(comp.results_path).parent
    paths = comp.write(out)
    print(comp.to_markdown())
    print(f"wrote {paths['csv']}, {paths['md']}")
    return 0


def cmd_report(args) -> int:
    from .reporting import build_report, parse_model_map

    out = _out_folder(args.out) if args.out else None
    from .runner.rebuild import refresh_results

    from .runner.intervals import load_cells

    note = refresh_results(args.dir)  # a store filled by many workers
    if note:
        print(note)
    try:  # the cell records' bootstrap replicates, for the paired comparisons
        cells = load_cells(args.dir)
    except InvalidInputError:
        cells = None
    res = build_report(args.dir, published=args.published, out=out, model_map=parse_model_map(args.map), cells=cells)
    comp = res["comparison"]
    print(f"wrote {res['md']}, {res['html']} ({len(res['figures'])} figures) and LaTeX tables {res['tex']}; comparison: "
          f"{len(comp.matched)} matched, {len(comp.measured_only)} measured only, {len(comp.published_only)} "
          "published only")
    return 0


UNSAFE_HELP = ("read checkpoints that need full unpickling (pickled objects): can run arbitrary code, only for files "
               "you trust; default: weights only, such files are refused (never needed for the released formats)")


def _checkpoint_args(*, single: bool = False) -> argparse.ArgumentParser:
    """Parent parser: the checkpoint options shared by list, run, train (and reproduce, ``single``)."""
    p = argparse.ArgumentParser(add_help=False)
    if single:
        p.add_argument("--checkpoint", action="append", metavar="PATH",
                       help="the released checkpoint file (format detected: rfbench inspect PATH shows it)")
    else:
        p.add_argument("--checkpoint", action="append", metavar="NAME=PATH",
                       help="register a checkpoint file or diffusers folder under NAME, format detected from the file "
                            "(repeatable; suites that load checkpoints benchmark it, others take --models NAME)")
        p.add_argument("--checkpoints", default=None,
                       help="JSON list of your checkpoints to register (rfbench.models.formats.register_checkpoints_file)")
    p.add_argument("--checkpoint-config", action="append", metavar="[NAME=]PRESET|JSON",
                   help="configuration of a weights-only checkpoint (RectifiedFlow/score_sde .pth, rfpp): a preset "
                        "(e.g. rf-cifar10-ddpmpp), or a JSON object / @FILE of register_checkpoint options "
                        "(config, sde, weights, ...)")
    p.add_argument("--allow-unsafe-load", action="store_true", help=UNSAFE_HELP)
    return p


def _run_args() -> argparse.ArgumentParser:
    """Parent parser: options of commands that compute (run, train, reproduce)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: the suite's, cpu for most)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _published_args() -> argparse.ArgumentParser:
    """Parent parser: options of commands that read the published table (compare, report)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--published", default=None, help="published table (default results/published.csv)")
    p.add_argument("--out", default=None, help="output folder (default: next to the results)")
    p.add_argument("--map", action="append", metavar="NAME=FAMILY/VARIANT",
                   help="map a model name to a published (family, variant), e.g. my-rf=rectified-flow/1-rf")
    return p


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rfbench", description="Benchmark flow-based generative samplers.")
    sub = p.add_subparsers(dest="command", required=True)
    ckpt, runp, pub = _checkpoint_args(), _run_args(), _published_args()

    ls = sub.add_parser("list", parents=[ckpt], help="list models, samplers, suites, metrics, grids, datasets")
    ls.add_argument("what", nargs="?", choices=["models", "samplers", "suites", "metrics", "grids", "datasets"])
    ls.set_defaults(func=cmd_list)

    run = sub.add_parser("run", parents=[runp, ckpt], help="run a benchmark suite (writes results.csv, results.md, plots)")
    run.add_argument("suite", help="suite name (rfbench list suites)")
    run.add_argument("--quick", action="store_true", help="the suite's quick configuration")
    run.add_argument("--smoke", action="store_true", help="the suite's smoke configuration (whole path, tiny)")
    run.add_argument("--out", default=None, help="output folder (default rfbench-out/SUITE)")
    run.add_argument("--nfe", type=_csv(int, "integer"), default=None, help="NFE list, e.g. 2,4,8")
    run.add_argument("--models", type=_csv(str, "model name"), default=None,
                     help="models (name, name@data, or your module.path:factory, which is imported: docs/own-model.md)")
    run.add_argument("--samplers", type=_csv(str, "sampler name"), default=None,
                     help="samplers (names, or your module.path:function, which is imported)")
    run.add_argument("--seeds", type=_csv(int, "integer"), default=None, help="noise seeds, e.g. 0,1,2")
    run.add_argument("--n-samples", type=int, default=None, help="samples per cell")
    run.add_argument("--force", action="store_true", help="recompute cells that already have fresh records")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="a suite option, e.g. fid_n=10000 (repeatable; the suite's options are in its docs)")
    run.add_argument("--shard", default=None, metavar="I/N",
                     help="compute only partition I of N of the cells (0-based); 'auto' or 'auto/N' reads I from "
                          "$SLURM_ARRAY_TASK_ID or $JOB_COMPLETION_INDEX (see docs/cluster.md)")
    run.add_argument("--no-wait", action="store_true",
                     help="exit when only cells claimed by other workers are left (the last worker writes the table)")
    run.add_argument("--claim-timeout", type=float, default=None, metavar="S",
                     help="take over a cell claimed by a worker whose heartbeat stopped S seconds ago (default 600)")
    run.add_argument("--no-intervals", action="store_true",
                     help="no error bars (bootstrap intervals and replicate vectors are on by default)")
    run.add_argument("--bootstrap", type=int, default=None, metavar="B",
                     help="bootstrap replicates per metric (default 1000 for means and W2, 100 for Fréchet distances)")
    run.add_argument("--ci-level", type=float, default=None, help="confidence level of the intervals (default 0.95)")
    run.set_defaults(func=cmd_run)

    cs = sub.add_parser("compare-samplers",
                        help="rank samplers per model and NFE with paired bootstrap tests (groups of indistinguishable ones)")
    cs.add_argument("dir", help="output folder of a suite run (its cells/ hold the bootstrap replicates)")
    cs.add_argument("--nfe", type=int, default=None, help="only this NFE (default: every NFE)")
    cs.add_argument("--metric", action="append", default=None, help="metric(s) to rank by (repeatable; default: all "
                                                                    "with replicates)")
    cs.add_argument("--ci-level", type=float, default=None, help="confidence level (default 0.95)")
    cs.set_defaults(func=cmd_compare_samplers)

    tr = sub.add_parser("train", parents=[runp, ckpt], help="train (or load from cache) a model rfbench trains itself")
    tr.add_argument("model", help="model name (rfbench list models)")
    tr.add_argument("--data", default=None, help="dataset (rfbench list datasets)")
    tr.add_argument("--steps", type=int, default=None, help="training steps")
    tr.add_argument("--seed", type=int, default=None, help="training seed")
    tr.add_argument("--data-path", default=None,
                    help="train on your own images (a folder, an .npz file or a CIFAR-10 folder), registered as --data NAME")
    tr.set_defaults(func=cmd_train)

    ins = sub.add_parser("inspect", help="what a checkpoint file holds: format, network, parameters, EMA or live "
                                         "weights, preconditioning, conditioning, its time in rfbench time")
    ins.add_argument("path", help="checkpoint file or diffusers folder")
    ins.add_argument("--checkpoint-config", action="append", metavar="PRESET|JSON",
                     help="configuration of a weights-only file (a preset, or a JSON object / @FILE of load options)")
    ins.set_defaults(func=cmd_inspect)

    rep_ = sub.add_parser("reproduce", parents=[runp, _checkpoint_args(single=True)],
                          help="run a published CIFAR-10 row's protocol on its released checkpoint (rfbench compare "
                               "joins the rows to that published row)")
    rep_.add_argument("row_id", nargs="?", help="published row id (rfbench reproduce --list)")
    rep_.add_argument("--list", action="store_true", help="list the recipes and their protocols")
    rep_.add_argument("--out", default=None, help="output folder (default rfbench-out/reproduce/ROW_ID)")
    rep_.add_argument("--n-samples", type=int, default=None,
                      help="FID samples (default: the published count; fewer are flagged by compare)")
    rep_.add_argument("--set", action="append", metavar="KEY=VALUE",
                      help="a cifar10 suite option (cifar10_root=DIR, fid_weights=FILE, ...)")
    rep_.add_argument("--smoke", action="store_true",
                      help="the whole path on CPU with stand-in Inception weights and reference images (tiny models; "
                           "reports fd_unverified, never fid)")
    rep_.set_defaults(func=cmd_reproduce)

    cmp_ = sub.add_parser("compare", parents=[pub],
                          help="place measured results next to published numbers, flag protocol mismatches")
    cmp_.add_argument("results", help="results.csv of a suite run (or its folder)")
    cmp_.add_argument("--all-published", action="store_true",
                      help="list every unmatched published row, not only those of the measured models")
    cmp_.set_defaults(func=cmd_compare)

    rep = sub.add_parser("report", parents=[pub], help="Markdown + HTML report of a suite's output (tables, plots, "
                                                       "comparison)")
    rep.add_argument("dir", help="output folder of a suite run (holds results.csv)")
    rep.set_defaults(func=cmd_report)

    from .launch import add_parser as add_launch_parser  # rfbench launch {slurm,local}

    add_launch_parser(sub, run)
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line each (``rfbench: warning: ...``), e.g. a quarantined cache file."""
    print(f"rfbench: warning: {message}", file=file or sys.stderr)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is (so finished cells are kept, as for Ctrl-C)."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .models.formats.rfbench import allow_unsafe_load

    in_main = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        with warnings.catch_warnings(), allow_unsafe_load(getattr(args, "allow_unsafe_load", False)):
            warnings.showwarning = _show_warning
            if args.command not in ("reproduce", "inspect"):  # these read their one file themselves
                _precheck_checkpoints(args)
                _register_checkpoints(args)
            return args.func(args)
    except ResourceError as exc:
        print(f"rfbench: error: {exc}", file=sys.stderr)
        return EXIT_RESOURCE
    except RFBenchError as exc:
        print(f"rfbench: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:  # a file rfbench had to read or write (permissions, full disk, ...)
        from .errors import resource_cause

        print(f"rfbench: error: {resource_cause(exc)}", file=sys.stderr)
        return EXIT_RESOURCE
    except MemoryError as exc:
        from .errors import resource_cause

        print(f"rfbench: error: {resource_cause(exc)}", file=sys.stderr)
        return EXIT_RESOURCE
    except KeyboardInterrupt as exc:
        how = "terminated (SIGTERM)" if isinstance(exc, _Terminated) else "interrupted"
        print(f"rfbench: {how}; finished cells are kept and a rerun resumes", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, _Terminated) else EXIT_INTERRUPTED
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, before if before is not None else signal.SIG_DFL)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
