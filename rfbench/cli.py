"""The ``rfbench`` command line.

    rfbench list [models|samplers|suites|metrics|grids|datasets] [--checkpoints FILE] [--allow-unsafe-load]
    rfbench run SUITE [--quick|--smoke] [--device cpu|cuda] [--out DIR] [--nfe 2,4,8] [--models ...] [--samplers ...]
                      [--set KEY=VALUE ...] [--checkpoint NAME=PATH ...] [--checkpoints FILE] [--allow-unsafe-load]
    rfbench train MODEL [--data DATA] [--data-path PATH] [--steps N] [--seed S] [--device cpu|cuda]
                        [--checkpoints FILE] [--allow-unsafe-load]
    rfbench compare RESULTS [--published CSV] [--out DIR] [--map NAME=FAMILY/VARIANT] [--all-published]
    rfbench report DIR [--published CSV] [--out DIR] [--map NAME=FAMILY/VARIANT]

``--checkpoints FILE`` (run, list, train) or $RFBENCH_CHECKPOINTS registers users' checkpoints listed in
a JSON file (see rfbench.models.external); ``--checkpoint NAME=PATH`` hands one checkpoint to a suite
that loads checkpoints (cifar10).

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
    if args.checkpoint:
        if "checkpoints" not in suite.options:
            from .suites import SUITES

            loaders = [n for n in SUITES if "checkpoints" in SUITES.get(n).options]
            raise InvalidInputError(f"--checkpoint: suite {args.suite!r} does not load checkpoints (suites that do: "
                                    f"{', '.join(loaders) or 'none'}); register yours with --checkpoints FILE and "
                                    "select it with --models NAME")
        _key_values(args.checkpoint, "--checkpoint", "NAME=PATH")  # validates the form
        options["checkpoints"] = ",".join(args.checkpoint)
    if args.device is not None:
        from .runner.sweep import parse_device

        parse_device(args.device)
    out = _out_folder(args.out or default_out_dir(args.suite))
    start = time.perf_counter()
    try:
        result = run_suite(args.suite, quick=args.quick, smoke=args.smoke, device=args.device, out=out, nfe=args.nfe,
                           models=args.models, samplers=args.samplers, seeds=args.seeds, n_samples=args.n_samples,
                           force=args.force, progress=not args.no_progress, options=options or None)
    except SuiteSkipped as exc:
        print(f"{args.suite}: skipped: {exc}")
        return 0
    s = result["summary"]
    print(f"{args.suite}: {s['cells']} cells ({s['computed']} computed, {s['reused']} reused, {s['failed']} failed) "
          f"in {time.perf_counter() - start:.1f} s")
    print(f"wrote {result['csv']}, {result['md']}" + "".join(f", {p}" for p in result["plots"]))
    return 0


def _register_checkpoints(args) -> None:
    import os

    from .models import register_checkpoints_file

    for path in [os.environ.get("RFBENCH_CHECKPOINTS"), getattr(args, "checkpoints", None)]:
        if path:
            register_checkpoints_file(path, replace=True, allow_unsafe=getattr(args, "allow_unsafe_load", False))


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
    res = build_report(args.dir, published=args.published, out=out, model_map=parse_model_map(args.map))
    comp = res["comparison"]
    print(f"wrote {res['md']}, {res['html']} ({len(res['figures'])} figures; comparison: {len(comp.matched)} matched, "
          f"{len(comp.measured_only)} measured only, {len(comp.published_only)} published only)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rfbench", description="Benchmark flow-based generative samplers.")
    sub = p.add_subparsers(dest="command", required=True)

    ls = sub.add_parser("list", help="list models, samplers, suites, metrics, grids, datasets")
    ls.add_argument("what", nargs="?", choices=["models", "samplers", "suites", "metrics", "grids", "datasets"])
    ls.add_argument("--checkpoints", default=None, help="JSON list of your checkpoints to register (rfbench.models.external)")
    ls.add_argument("--allow-unsafe-load", action="store_true",
                    help="read checkpoints that need full unpickling (pickled objects): can run arbitrary code, "
                         "only for files you trust; default: weights only, such files are refused")
    ls.set_defaults(func=cmd_list)

    run = sub.add_parser("run", help="run a benchmark suite (writes results.csv, results.md, plots)")
    run.add_argument("suite", help="suite name (rfbench list suites)")
    run.add_argument("--quick", action="store_true", help="the suite's quick configuration")
    run.add_argument("--smoke", action="store_true", help="the suite's smoke configuration (whole path, tiny)")
    run.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: the suite's, cpu for most)")
    run.add_argument("--out", default=None, help="output folder (default rfbench-out/SUITE)")
    run.add_argument("--nfe", type=_csv(int, "integer"), default=None, help="NFE list, e.g. 2,4,8")
    run.add_argument("--models", type=_csv(str, "model name"), default=None,
                     help="models (name, name@data, or your module.path:factory, which is imported: docs/own-model.md)")
    run.add_argument("--samplers", type=_csv(str, "sampler name"), default=None,
                     help="samplers (names, or your module.path:function, which is imported)")
    run.add_argument("--seeds", type=_csv(int, "integer"), default=None, help="noise seeds, e.g. 0,1,2")
    run.add_argument("--n-samples", type=int, default=None, help="samples per cell")
    run.add_argument("--force", action="store_true", help="recompute cells that already have fresh records")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="a suite option, e.g. fid_n=10000 (repeatable; the suite's options are in its docs)")
    run.add_argument("--checkpoint", action="append", metavar="NAME=PATH",
                     help="a model checkpoint to benchmark under NAME (repeatable; suites that load checkpoints)")
    run.add_argument("--checkpoints", default=None, help="JSON list of your checkpoints to register (rfbench.models.external)")
    run.add_argument("--allow-unsafe-load", action="store_true",
                    help="read checkpoints that need full unpickling (pickled objects): can run arbitrary code, "
                         "only for files you trust; default: weights only, such files are refused")
    run.set_defaults(func=cmd_run)

    tr = sub.add_parser("train", help="train (or load from cache) a model rfbench trains itself")
    tr.add_argument("model", help="model name (rfbench list models)")
    tr.add_argument("--data", default=None, help="dataset (rfbench list datasets)")
    tr.add_argument("--steps", type=int, default=None, help="training steps")
    tr.add_argument("--seed", type=int, default=None, help="training seed")
    tr.add_argument("--device", default=None, help="cpu or cuda")
    tr.add_argument("--data-path", default=None,
                    help="train on your own images (a folder, an .npz file or a CIFAR-10 folder), registered as --data NAME")
    tr.add_argument("--no-progress", action="store_true")
    tr.add_argument("--checkpoints", default=None, help="JSON list of your checkpoints to register (rfbench.models.external)")
    tr.add_argument("--allow-unsafe-load", action="store_true",
                    help="read checkpoints that need full unpickling (pickled objects): can run arbitrary code, "
                         "only for files you trust; default: weights only, such files are refused")
    tr.set_defaults(func=cmd_train)

    cmp_ = sub.add_parser("compare", help="place measured results next to published numbers, flag protocol mismatches")
    cmp_.add_argument("results", help="results.csv of a suite run (or its folder)")
    cmp_.add_argument("--published", default=None, help="published table (default results/published.csv)")
    cmp_.add_argument("--out", default=None, help="folder for comparison.csv/.md (default: next to RESULTS)")
    cmp_.add_argument("--map", action="append", metavar="NAME=FAMILY/VARIANT",
                      help="map a model name to a published (family, variant), e.g. my-rf=rectified-flow/1-rf")
    cmp_.add_argument("--all-published", action="store_true",
                      help="list every unmatched published row, not only those of the measured models")
    cmp_.set_defaults(func=cmd_compare)

    rep = sub.add_parser("report", help="Markdown + HTML report of a suite's output (tables, plots, comparison)")
    rep.add_argument("dir", help="output folder of a suite run (holds results.csv)")
    rep.add_argument("--published", default=None, help="published table (default results/published.csv)")
    rep.add_argument("--out", default=None, help="folder for report.md/.html (default DIR)")
    rep.add_argument("--map", action="append", metavar="NAME=FAMILY/VARIANT", help="as for compare")
    rep.set_defaults(func=cmd_report)
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
    from .models.checkpoints import allow_unsafe_load

    in_main = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        with warnings.catch_warnings(), allow_unsafe_load(getattr(args, "allow_unsafe_load", False)):
            warnings.showwarning = _show_warning
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
