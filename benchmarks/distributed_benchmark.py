"""Training throughput of one worker against N local workers (``--strategy multi-worker``), in one run.

Run from the repository root::

    python -m benchmarks.distributed_benchmark                  # 1 vs 2 workers on this machine's CPU

Each configuration is a real ``python -m recsys_dr.model build`` on the same synthetic data and
global batch: first one process with the default strategy, then ``--workers`` processes joined by
``TF_CONFIG`` on 127.0.0.1 (free ports picked at run time, :func:`model.distributed.local_cluster`).
Throughput is training examples per second over the epochs after the first (the first pays for
tracing the step and, with several workers, for setting up the collectives), taken from the chief's
per-epoch record. The figures are printed and written to ``--json``.

All workers share this machine's cores, so N local workers measure the cost of the all-reduce and
of splitting the batch, not the speed-up of N machines (the README's "Distributed training"
section says what a GPU node and N nodes change).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.figures import write_figures

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _build_args(args: argparse.Namespace, out: Path) -> list[str]:
    return [sys.executable, "-m", "recsys_dr.model", "build", "--synthetic-users", str(args.users),
            "--epochs", str(args.epochs), "--patience", str(args.epochs), "--no-refit", "--batch-size",
            str(args.batch_size), "--validation-users", "200", "--no-progress", "--allow-dev-key",
            "--out", str(out), "--metrics-out", str(out / "metrics.json")]


def run(args: argparse.Namespace, workers: int, root: Path) -> dict:
    """One build with ``workers`` processes; returns the chief's throughput figures."""
    from recsys_dr.model.distributed import local_cluster

    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    outs = [root / f"{workers}-workers" / f"worker{i}" for i in range(workers)]
    configs = local_cluster(workers) if workers > 1 else [None]
    procs = []
    for out, config in zip(outs, configs):
        out.mkdir(parents=True)
        extra = ["--strategy", "multi-worker"] if config else []
        procs.append(subprocess.Popen(_build_args(args, out) + extra, env=env | ({"TF_CONFIG": config} if config else {}),
                                      stdout=subprocess.DEVNULL, stderr=open(out / "log.txt", "w")))  # noqa: SIM115
    codes = [p.wait() for p in procs]
    if any(codes):
        tails = "\n".join((out / "log.txt").read_text()[-2000:] for out in outs)
        raise SystemExit(f"{workers} worker(s) failed ({codes}):\n{tails}")
    chief = json.loads((outs[0] / "metrics.json").read_text())
    timed = chief["history"][1:]  # after the first epoch (tracing, collective setup)
    examples, seconds = sum(h["examples"] for h in timed), sum(h["seconds"] for h in timed)
    figures = {"workers": workers, "replicas": chief["training"]["replicas"], "timed_epochs": len(timed),
               "examples": examples, "seconds": round(seconds, 2), "examples_per_second": round(examples / seconds),
               "first_epoch_seconds": chief["history"][0]["seconds"],
               "ndcg@10": round(chief["metrics"]["model"]["all"]["ndcg@10"], 4)}
    print(f"{workers} worker(s): {figures['examples_per_second']:>8,} examples/s over {len(timed)} epoch(s) "
          f"({examples:,} examples in {seconds:.1f} s; first epoch {figures['first_epoch_seconds']:.1f} s); "
          f"NDCG@10 {figures['ndcg@10']:.4f}", flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.distributed_benchmark", description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=2, help="local workers of the second run (default: 2)")
    p.add_argument("--users", type=int, default=4000, help="synthetic shoppers (default: 4000)")
    p.add_argument("--epochs", type=int, default=3, help="epochs; all but the first are timed (default: 3)")
    p.add_argument("--batch-size", type=int, default=1024, help="global batch (default: 1024)")
    p.add_argument("--json", type=Path, default=Path("benchmarks/results/distributed_throughput.json"))
    args = p.parse_args(argv)
    if args.epochs < 2 or args.workers < 2:
        p.error("--epochs and --workers must be >= 2 (the first epoch is not timed; 1 worker is the reference)")
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run(args, n, Path(tmp)) for n in (1, args.workers)]
    figures = {"runs": runs, "speedup": round(runs[1]["examples_per_second"] / runs[0]["examples_per_second"], 2),
               "settings": {"users": args.users, "batch_size": args.batch_size, "epochs": args.epochs},
               "machine": {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}}
    print(f"{args.workers} workers / 1: {figures['speedup']:.2f}x on {os.cpu_count()} CPU core(s) shared by all workers")
    write_figures(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
