"""MovieLens-100K benchmark of the recommender: quality, training time, size, serving latency.

Run from the repository root::

    python -m benchmarks.model_benchmark                # defaults below
    python -m benchmarks.model_benchmark --epochs 3 --json benchmarks/results/model_benchmark.json

One run: leave-last-out split of MovieLens-100K (from the recbole wheel), train, rank every
user's held-out movie against the full catalog for the model, most-popular and item-kNN;
export the SavedModel; then time

* the exported ``serving_default`` signature (raw strings in, top-K out), batch 1 and 64;
* the same Keras model through ``model.predict`` one request at a time (plus the same
  preprocessing and a NumPy top-K, so both paths answer the same question), batch 1 and 64.

Latency is wall time per call (p50 / p99 over ``--iterations`` calls after warmup);
throughput is examples per second over those calls. Figures go to stdout and to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _timings(fn, iterations: int, batch: int, warmup: int = 5) -> dict:
    import numpy as np

    for _ in range(warmup):
        fn()
    lat = []
    start = time.perf_counter()
    for _ in range(iterations):
        t = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    lat_ms = np.array(lat) * 1e3
    return {"batch": batch, "calls": iterations, "p50_ms": float(np.percentile(lat_ms, 50)),
            "p99_ms": float(np.percentile(lat_ms, 99)), "examples_per_s": batch * iterations / total}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.model_benchmark", description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=10, help="default: 10")
    p.add_argument("--history-length", type=int, default=20, help="default: 20")
    p.add_argument("--embedding-dim", type=int, default=64, help="default: 64")
    p.add_argument("--hidden-units", default="256", help="default: 256")
    p.add_argument("--seed", type=int, default=42, help="default: 42")
    p.add_argument("--title-words", type=int, default=1, help="title words in the derived queries (default: 1; 0 = genres only)")
    p.add_argument("--iterations", type=int, default=300, help="timed calls per latency measurement (default: 300)")
    p.add_argument("--out", type=Path, default=None, help="export here (default: a temporary directory)")
    p.add_argument("--json", type=Path, default=Path("benchmarks/results/model_benchmark.json"),
                   help="figures as JSON (default: benchmarks/results/model_benchmark.json)")
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from recsys_dr.model.data import fingerprint
    from recsys_dr.model.evaluate import evaluate_all, format_table
    from recsys_dr.model.export import export_version
    from recsys_dr.model.movielens import load_movielens_100k
    from recsys_dr.model.network import NetworkConfig
    from recsys_dr.model.split import leave_last_out
    from recsys_dr.model.train import TrainConfig, train

    data = load_movielens_100k(pseudonym_key="benchmark", title_words=args.title_words)
    config = TrainConfig(network=NetworkConfig(embedding_dim=args.embedding_dim,
                                               hidden_units=tuple(int(u) for u in args.hidden_units.split(","))),
                         history_length=args.history_length, epochs=args.epochs, seed=args.seed)
    split = leave_last_out(data, config.history_length)
    trained = train(split, data.item_ids, config, show_progress=True)
    metrics = evaluate_all(trained.logits, split, data.item_ids)
    metrics_unseen = evaluate_all(trained.logits, split, data.item_ids, exclude_seen=True)

    out = args.out or Path(tempfile.mkdtemp(prefix="model-benchmark-"))
    version_dir = export_version(trained, out, metrics=metrics,
                                 data_fingerprint=fingerprint(data, history_length=config.history_length))
    size = sum(f.stat().st_size for f in version_dir.rglob("*") if f.is_file())

    serving = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    pre, model = trained.preprocessor, trained.model
    rng = np.random.default_rng(0)
    latency = {}
    for batch in (1, 64):
        idx = rng.integers(0, len(split.test), size=batch)
        q, h = split.test.query[idx].astype(str), split.test.history[idx].astype(str)
        qt, ht = tf.constant(q), tf.constant(h)
        latency[f"signature_b{batch}"] = _timings(lambda: serving(query=qt, history=ht), args.iterations, batch)

        def keras_predict(q=q, h=h):
            logits = model.predict(pre.transform(q, h), verbose=0, batch_size=batch)
            top = np.argpartition(-logits, 10, axis=1)[:, :10]
            return np.take_along_axis(logits, top, axis=1)

        latency[f"keras_predict_b{batch}"] = _timings(keras_predict, max(args.iterations // 3, 20), batch)

    figures = {
        "dataset": data.name, "users_evaluated": len(split.test), "items": len(data.catalog),
        "train_examples": len(split.train), "epochs": config.epochs, "train_seconds": trained.train_seconds,
        "device": trained.device, "artifact_bytes": size, "metrics": metrics, "metrics_exclude_seen": metrics_unseen,
        "title_words": args.title_words, "latency": latency,
        "config": config.to_dict(), "tensorflow": tf.__version__, "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    print()
    print(f"full-catalog ranking, {len(split.test)} held-out users, queries = genres + {args.title_words} title word(s)")
    print(format_table(metrics))
    print()
    print("same, with each user's training items removed from the ranking (--exclude-seen protocol)")
    print(format_table(metrics_unseen))
    print()
    print(f"training: {trained.train_seconds:.1f} s for {config.epochs} epochs on {trained.device} "
          f"({len(split.train):,} examples); artifact: {size / 1e6:.2f} MB ({version_dir})")
    print()
    print(f"{'path':<26}{'batch':>6}{'p50 ms':>10}{'p99 ms':>10}{'examples/s':>13}")
    for name, t in latency.items():
        print(f"{name:<26}{t['batch']:>6}{t['p50_ms']:>10.2f}{t['p99_ms']:>10.2f}{t['examples_per_s']:>13.0f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
