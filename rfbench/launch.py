"""``rfbench launch {slurm,local} [options] SUITE [run options]``: a sweep as one job array (submitit).

One array of ``--jobs`` tasks; each task is an ordinary ``rfbench run SUITE ... --no-wait`` worker
that loops over the suite's cells through the shared store (:mod:`rfbench.runner.workers`): it
claims cells, skips those with fresh records, exits when only cells claimed by others are left, and
the last task to finish writes the table. Never one job per cell: clusters cap array sizes and
submission rates. A task that is preempted or runs out of time is requeued by submitit (the task is
:class:`submitit.helpers.Checkpointable`) and resumes from the records; its claims are recognised as
its own by the SLURM job id and taken over at once.

``--gpus-per-job G`` > 1 runs each task as G processes of one torch.distributed group (one cell over
G GPUs, :mod:`rfbench.runner.distributed`), set up by submitit's TorchDistributedEnvironment.

``local`` runs the same array on this machine (submitit's LocalExecutor: every task at once) and
waits for it. submitit is the optional extra ``rfbench[cluster]``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .errors import InvalidInputError

MAX_JOBS = 10_000


def _minutes(text: str) -> int:
    """``--time`` in SLURM's forms: ``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``, ``D-H:M:S``."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"expected minutes or SLURM's [D-]H:M:S forms, got {text!r}")
    days, a, b, c = (int(g) if g is not None else None for g in m.groups())
    if days is None:
        seconds = a * 60 if b is None else (a * 60 + b if c is None else a * 3600 + b * 60 + c)
    else:
        seconds = days * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
    minutes = -(-seconds // 60)
    if minutes < 1:
        raise argparse.ArgumentTypeError(f"--time must be at least one minute, got {text!r}")
    return minutes


def add_parser(sub, run_parser: argparse.ArgumentParser) -> None:
    """The ``launch`` subcommand (called from rfbench.cli.build_parser with the ``run`` parser, which
    checks the run options before anything is submitted)."""
    la = sub.add_parser("launch", help="run a suite as a SLURM job array (submitit) or a local array of workers",
                        description="Options of launch come first, then SUITE and any `rfbench run` options, e.g. "
                                    "rfbench launch slurm --jobs 8 --partition gpu --time 4:00:00 cifar10 --set fid_n=50000")
    la.add_argument("executor", choices=["slurm", "local"], help="slurm: submit with sbatch; local: this machine")
    la.add_argument("--jobs", type=int, default=2, help="array tasks (workers), default 2")
    la.add_argument("--gpus-per-job", type=int, default=0, help="GPUs per task (>1: one cell over them with "
                                                                "torch.distributed), default 0")
    la.add_argument("--cpus-per-job", type=int, default=None, help="CPUs per task")
    la.add_argument("--mem", default=None, help="memory per task, e.g. 32G")
    la.add_argument("--partition", default=None, help="SLURM partition")
    la.add_argument("--account", default=None, help="SLURM account")
    la.add_argument("--qos", default=None, help="SLURM QOS")
    la.add_argument("--constraint", default=None, help="SLURM constraint, e.g. a100")
    la.add_argument("--time", type=_minutes, default=60, help="time limit per task (minutes or [D-]H:MM[:SS]); "
                                                              "tasks that hit it are requeued and resume")
    la.add_argument("--array-parallelism", type=int, default=None, help="at most this many tasks at once")
    la.add_argument("--logs", default=None, help="submitit's folder (default OUT/launch)")
    la.add_argument("--dry-run", action="store_true", help="print the sbatch parameters and the worker command; "
                                                           "submit nothing")
    la.add_argument("suite", help="suite name (rfbench list suites)")
    la.add_argument("run_args", nargs=argparse.REMAINDER, metavar="[run options]", help="`rfbench run` options")
    la.set_defaults(func=cmd_launch, run_parser=run_parser)


def _worker_argv(args, run_parser) -> tuple[list[str], argparse.Namespace]:
    argv = [args.suite] + list(args.run_args)
    if argv[0].startswith("-"):
        raise InvalidInputError("launch: expected SUITE [run options] after the launch options, e.g. "
                                "`rfbench launch local --jobs 2 toy2d --quick`")
    if any(a == "--shard" or a.startswith("--shard=") for a in argv):
        raise InvalidInputError("launch: --shard is not allowed; the array's tasks share the cells through claims")
    run_ns = run_parser.parse_args(argv)  # bad run options fail here, before anything is submitted
    argv = [a for a in argv if a != "--no-wait"] + ["--no-wait"]
    if run_ns.out is None:
        from .runner import default_out_dir

        argv += ["--out", str(default_out_dir(run_ns.suite))]
        run_ns.out = str(default_out_dir(run_ns.suite))
    # the tasks may start elsewhere: a relative --out means the same folder as here
    i = len(argv) - 1 - argv[::-1].index("--out") if "--out" in argv else None
    if i is not None:
        argv[i + 1] = str(Path(argv[i + 1]).expanduser().resolve())
    else:
        argv = [a if not a.startswith("--out=") else f"--out={Path(a[6:]).expanduser().resolve()}" for a in argv]
    run_ns.out = str(Path(run_ns.out).expanduser().resolve())
    return ["run"] + argv, run_ns


def slurm_parameters(args, name: str) -> dict:
    """submitit's SlurmExecutor parameters for the array (printed by --dry-run)."""
    params = {"job_name": f"rfbench-{name}", "time": args.time, "nodes": 1,
              "ntasks_per_node": max(1, args.gpus_per_job), "array_parallelism": args.array_parallelism or args.jobs,
              "signal_delay_s": 120}
    if args.gpus_per_job:
        params["gpus_per_node"] = args.gpus_per_job
    for key in ("partition", "account", "qos", "constraint", "mem"):
        if getattr(args, key):
            params[key] = getattr(args, key)
    if args.cpus_per_job:
        params["cpus_per_task"] = max(1, args.cpus_per_job // max(1, args.gpus_per_job))
    return params


def sbatch_lines(params: dict, jobs: int) -> list[str]:
    """The ``#SBATCH`` lines submitit writes for ``params`` (the array line included)."""
    names = {"job_name": "job-name", "time": "time", "nodes": "nodes", "ntasks_per_node": "ntasks-per-node",
             "gpus_per_node": "gpus-per-node", "partition": "partition", "account": "account", "qos": "qos",
             "constraint": "constraint", "mem": "mem", "cpus_per_task": "cpus-per-task"}
    lines = [f"#SBATCH --{names[k]}={v}" for k, v in params.items() if k in names]
    lines.append(f"#SBATCH --array=0-{jobs - 1}%{params['array_parallelism']}")
    lines.append(f"#SBATCH --signal=USR2@{params['signal_delay_s']}")
    return lines


class SweepTask:
    """One array task: ``rfbench run ... --no-wait`` in this process; requeued with the same arguments
    after a preemption or time-out (the records hold the progress)."""

    def __init__(self, argv: list[str], gpus: int):
        self.argv = list(argv)
        self.gpus = gpus

    def __call__(self, index: int) -> int:
        import os

        if self.gpus > 1:  # one process per GPU, one torch.distributed group per task
            from submitit.helpers import TorchDistributedEnvironment

            TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
            os.environ["LOCAL_RANK"] = os.environ.get("LOCAL_RANK", "0")
        import subprocess

        # a fresh interpreter per task: the worker's own signal handling, imports and exit status
        code = subprocess.call([sys.executable, "-m", "rfbench", *self.argv])
        if code != 0:
            raise RuntimeError(f"rfbench worker (array task {index}) exited with status {code}")
        return code

    def checkpoint(self, *args, **kwargs):
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)


def cmd_launch(args) -> int:
    if not 1 <= args.jobs <= MAX_JOBS:
        raise InvalidInputError(f"--jobs must be between 1 and {MAX_JOBS}, got {args.jobs}")
    if args.gpus_per_job < 0:
        raise InvalidInputError(f"--gpus-per-job must be >= 0, got {args.gpus_per_job}")
    if args.array_parallelism is not None and args.array_parallelism < 1:
        raise InvalidInputError(f"--array-parallelism must be >= 1, got {args.array_parallelism}")
    argv, run_ns = _worker_argv(args, args.run_parser)
    from .suites import get_suite

    get_suite(run_ns.suite)
    if args.gpus_per_job and "--device" not in argv and not any(a.startswith("--device=") for a in argv):
        argv += ["--device", "cuda"]
    folder = Path(args.logs).expanduser().resolve() if args.logs else Path(run_ns.out) / "launch"
    params = slurm_parameters(args, run_ns.suite)
    command = "rfbench " + " ".join(argv)
    if args.dry_run:
        print(f"executor: {args.executor}; {args.jobs} array task(s), each: {command}")
        print(f"submitit folder: {folder}")
        if args.executor == "slurm":
            print("sbatch parameters:")
            print("\n".join(sbatch_lines(params, args.jobs)))
        return 0
    try:
        import submitit
    except ImportError:
        raise InvalidInputError("launch needs submitit: pip install 'rfbench[cluster]' (or submitit==1.5.4)") from None
    task = SweepTask(argv, args.gpus_per_job)
    if args.executor == "slurm":
        executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
        executor.update_parameters(
            name=params["job_name"], timeout_min=args.time, nodes=1, tasks_per_node=params["ntasks_per_node"],
            gpus_per_node=args.gpus_per_job or None, cpus_per_task=params.get("cpus_per_task"),
            slurm_partition=args.partition, slurm_account=args.account, slurm_qos=args.qos,
            slurm_constraint=args.constraint, slurm_mem=args.mem, slurm_array_parallelism=params["array_parallelism"],
            slurm_signal_delay_s=params["signal_delay_s"])
    else:
        executor = submitit.AutoExecutor(folder=folder, cluster="local")
        executor.update_parameters(timeout_min=args.time, tasks_per_node=1, gpus_per_node=args.gpus_per_job or None)
    jobs = executor.map_array(task, list(range(args.jobs)))
    print(f"submitted {len(jobs)} task(s) ({args.executor}): job {jobs[0].job_id.split('_')[0]}; logs in {folder}")
    if args.executor == "local":
        failed = 0
        for job in jobs:
            try:
                job.result()
            except Exception as exc:  # noqa: BLE001 - reported per task
                failed += 1
                print(f"task {job.job_id}: failed: {str(exc).strip().splitlines()[-1]}", file=sys.stderr)
        print(f"{len(jobs) - failed} of {len(jobs)} task(s) finished; results in {run_ns.out}")
        return 0 if failed == 0 else 1
    print(f"results gather in {run_ns.out}; `rfbench report {run_ns.out}` once the tasks are done")
    return 0
