"""Peak memory of the first pass over a sharded log against the number of events.

Run from the repository root::

    python -m benchmarks.stream_benchmark                    # 1M and 5M events, 100k users, 100k items

For each event count, a log of ``--users`` shoppers and ``--items`` catalog items is written as
Parquet shards of about ``--shard-events`` events each, every user in one shard
(:func:`model.stream.write_user_shards`), and then, in a fresh process, read by
:func:`model.stream.scan_shards` (validation, pseudonymisation, the split, the vocabulary, the
sampler's counts, the evaluation sample). The figures are that process's peak resident memory
(``VmHWM`` of ``/proc/self/status``) and wall time; with ``--in-memory`` also those of the in-memory path
(``model.data.load_dataset`` + ``model.split.leave_last_out``) on the same log in one file.
Users and items stay fixed while the events grow, so a first pass whose memory follows users
and items keeps the same peak.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.figures import write_figures

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PEAK = """
import json, sys, time

def peak_mib():
    # VmHWM: this process's own high-water mark. ru_maxrss would carry the parent's over exec
    # (Linux keeps the larger of the old and new mm's), and the parent held the generated log.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
"""

SCAN = PEAK + """t = time.perf_counter()
from recsys_dr.model.stream import scan_shards
scan = scan_shards(sys.argv[1], sys.argv[2], pseudonym_key="bench", history_length=int(sys.argv[3]))
print(json.dumps({"seconds": round(time.perf_counter() - t, 1), "peak_rss_mib": peak_mib(),
    "train_examples": sum(scan.train_examples), "users": scan.users, "shards": len(scan.shards)}))
"""

IN_MEMORY = PEAK + """t = time.perf_counter()
import recsys_dr.model.features  # the same imports as the scan (TensorFlow), so the baselines match
from recsys_dr.model.data import load_dataset
from recsys_dr.model.split import leave_last_out
split = leave_last_out(load_dataset(sys.argv[1], sys.argv[2], pseudonym_key="bench"), int(sys.argv[3]))
print(json.dumps({"seconds": round(time.perf_counter() - t, 1), "peak_rss_mib": peak_mib(),
    "train_examples": len(split.train)}))
"""


def write_log(root: Path, events: int, users: int, items: int, shard_events: int, seed: int = 0) -> None:
    """``root/log/`` shards, ``root/all.parquet`` and ``root/catalog.csv`` of a synthetic log:
    Zipf-like item popularity, one event in five with a two-word query."""
    import numpy as np
    import pandas as pd

    from recsys_dr.model.stream import write_user_shards

    rng = np.random.default_rng(seed)
    item = np.minimum(rng.zipf(1.2, events), items) - 1
    words = np.array([f"w{i}" for i in range(2000)], dtype=object)
    query = np.where(rng.random(events) < 0.2, words[rng.integers(0, 2000, events)] + " " +
                     words[rng.integers(0, 2000, events)], "")
    frame = pd.DataFrame({"user_id": np.char.add("shopper-", rng.integers(0, users, events).astype(str)),
                          "item_id": np.char.add("sku-", item.astype(str)),
                          "timestamp": np.sort(rng.integers(1_600_000_000, 1_700_000_000, events)), "query": query})
    write_user_shards(frame, root / "log", max(1, events // shard_events))
    frame.to_parquet(root / "all.parquet", index=False)
    pd.DataFrame({"item_id": [f"sku-{i}" for i in range(items)], "title": [f"item {i}" for i in range(items)],
                  "category": [f"c{i % 50}" for i in range(items)]}).to_csv(root / "catalog.csv", index=False)


def _measure(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stream_benchmark", description=__doc__.split("\n")[0])
    p.add_argument("--events", default="1000000,5000000", help="comma-separated event counts (default: 1000000,5000000)")
    p.add_argument("--users", type=int, default=100_000, help="default: 100000")
    p.add_argument("--items", type=int, default=100_000, help="default: 100000")
    p.add_argument("--shard-events", type=int, default=250_000, help="events per shard (default: 250000)")
    p.add_argument("--history-length", type=int, default=256, help="default: 256")
    p.add_argument("--in-memory", action="store_true", help="also measure the in-memory load and split")
    p.add_argument("--json", type=Path, default=Path("benchmarks/results/stream_scan.json"))
    args = p.parse_args(argv)
    runs = []
    for events in (int(e) for e in args.events.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_log(root, events, args.users, args.items, args.shard_events)
            run = {"events": events, "scan": _measure(SCAN, str(root / "log"), str(root / "catalog.csv"),
                                                      str(args.history_length))}
            line = (f"{events:>10,} events, {run['scan']['shards']:>3} shards: first pass peak "
                    f"{run['scan']['peak_rss_mib']:,} MiB in {run['scan']['seconds']:.0f} s")
            if args.in_memory:
                run["in_memory"] = _measure(IN_MEMORY, str(root / "all.parquet"), str(root / "catalog.csv"),
                                            str(args.history_length))
                line += (f"; in memory peak {run['in_memory']['peak_rss_mib']:,} MiB in "
                         f"{run['in_memory']['seconds']:.0f} s")
            print(line, flush=True)
            runs.append(run)
    figures = {"runs": runs, "settings": {"users": args.users, "items": args.items, "shard_events": args.shard_events,
                                          "history_length": args.history_length}}
    write_figures(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
