"""Benchmarks of the recommender: quality over seeds, and an end-to-end build at catalog scale.

Run from the repository root::

    python -m benchmarks.model_benchmark quality            # MovieLens-100K + repeat-heavy shop, 3 seeds
    python -m benchmarks.model_benchmark scale              # 100k items, 1M interactions, one epoch

``quality`` trains one model per seed (``--seeds``, default 42,43,44) on each dataset and
prints mean +- std (population std over the seeds) of every method's metrics on the test
items, ties broken at random in expectation:

* ``movielens``: MovieLens-100K history only (empty queries), seen items excluded - the
  headline;
* ``shop``: the synthetic shop with staples on a cycle (repeat-heavy), its own queries,
  nothing excluded (re-buys are legitimate answers), split by re-buy / new item;
* ``movielens-derived`` (``--with-derived``, one seed): queries built from the target
  movie's genres and title - the answer is in the input, so this measures the query tower.

Baselines are deterministic, so their std over training seeds is 0 (the data do not change).

``scale`` builds end to end in one process - generate the data, split, train one epoch (no refit),
evaluate the model and every baseline on all test users, export - and prints wall time per
stage, peak resident memory (``ru_maxrss``), artifact and weight bytes, and the exported
``serving_default`` signature's latency (p50 / p99 over ``--iterations`` calls after warmup)
at batch 1 and 64: through ``Session.run`` of the signature's tensors, as TF Serving runs a
Predict request (the serving figure), and through ``tf.saved_model.load`` from Python.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _timings(fn, iterations: int, batch: int, rounds: int = 1, warmup: int = 10) -> dict:
    """p50 / p99 over ``rounds`` x ``iterations`` calls, and each round's own p99: this VM's speed
    drifts by up to 2x over seconds, so one round's p99 says more about the host than the graph."""
    import gc

    import numpy as np

    for _ in range(warmup):
        fn()
    per_round = []
    # Python's collector off while timing, as timeit does: its pauses belong to this client,
    # not to the graph (TF Serving runs it from C++).
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            lat = []
            for _ in range(iterations):
                t = time.perf_counter()
                fn()
                lat.append(time.perf_counter() - t)
            per_round.append(np.array(lat) * 1e3)
    finally:
        gc.enable()
    ms = np.concatenate(per_round)
    return {"batch": batch, "calls": len(ms), "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "round_p99_ms": [float(np.percentile(r, 99)) for r in per_round],
            "examples_per_s": batch * len(ms) / float(np.sum(ms) / 1e3)}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _dataset(name: str, shop_users: int):
    from recsys_dr.model.movielens import load_movielens_100k
    from recsys_dr.model.synthetic import SyntheticConfig, generate

    if name == "movielens":
        return load_movielens_100k(pseudonym_key="benchmark"), True
    if name == "movielens-derived":
        return load_movielens_100k(pseudonym_key="benchmark", queries=True), True
    return generate(SyntheticConfig(num_users=shop_users, seed=1), pseudonym_key="benchmark"), False


def _summarise(runs: list[dict]) -> dict:
    """``{method: {group: {metric: {"mean", "std"}}}}`` over the seeds' results."""
    import numpy as np

    out: dict = {}
    for method, groups in runs[0].items():
        for group, metrics in groups.items():
            for name in metrics:
                vals = np.array([r[method][group][name] for r in runs], dtype=float)
                out.setdefault(method, {}).setdefault(group, {})[name] = {"mean": float(vals.mean()), "std": float(vals.std())}
    return out


def _print_summary(title: str, summary: dict) -> None:
    cols = [("all", "ndcg@10"), ("all", "hit_rate@10"), ("all", "mrr"), ("repeat", "ndcg@10"), ("new", "ndcg@10")]
    print(f"\n{title}")
    first = next(iter(summary.values()))
    print("examples: " + ", ".join(f"{g} {int(first.get(g, {}).get('examples', {}).get('mean', 0))}" for g in ("all", "repeat", "new")))
    head = f"{'method':<20}" + "".join(f"{(n if g == 'all' else g + ' ' + n):>20}" for g, n in cols)
    print(head)
    print("-" * len(head))
    for method, groups in summary.items():
        cells = []
        for g, n in cols:
            v = groups.get(g, {}).get(n)
            cells.append(f"{v['mean']:.4f} ± {v['std']:.4f}" if v else "-")
        print(f"{method:<20}" + "".join(f"{c:>20}" for c in cells))


def quality(args: argparse.Namespace) -> dict:
    from recsys_dr.model.evaluate import evaluate_all, fitted_baselines
    from recsys_dr.model.split import leave_last_out
    from recsys_dr.model.train import TrainConfig, train

    seeds = [int(s) for s in args.seeds.split(",")]
    plan = [("movielens", seeds), ("shop", seeds)] + ([("movielens-derived", seeds[:1])] if args.with_derived else [])
    figures: dict = {}
    for name, run_seeds in plan:
        data, exclude_seen = _dataset(name, args.shop_users)
        split = leave_last_out(data, args.history_length)
        baselines = fitted_baselines(split, data.item_ids)
        runs, trainings = [], []
        for seed in run_seeds:
            config = TrainConfig(history_length=args.history_length, epochs=args.epochs, seed=seed)
            trained = train(split, data.item_ids, config, show_progress=False, exclude_seen=exclude_seen)
            runs.append(evaluate_all(trained.scores, split, data.item_ids, exclude_seen=exclude_seen, baselines=baselines))
            trainings.append({"seed": seed, "best_epoch": trained.best_epoch, "train_seconds": round(trained.train_seconds, 1),
                              "history": trained.history})
            print(f"{name} seed {seed}: model ndcg@10 {runs[-1]['model']['all']['ndcg@10']:.4f} "
                  f"(epoch {trained.best_epoch}, {trained.train_seconds:.0f} s)", flush=True)
        summary = _summarise(runs)
        figures[name] = {"dataset": data.name, "exclude_seen": exclude_seen, "seeds": run_seeds, "summary": summary,
                         "runs": runs, "training": trainings, "config": config.to_dict(),
                         "test_users": len(split.test), "items": len(data.catalog)}
        _print_summary(f"{name}: {data.name}, {len(split.test)} test users, {len(data.catalog)} items, "
                       f"exclude_seen={exclude_seen}, seeds {run_seeds} (mean ± std)", summary)
        m, knn = summary["model"]["all"]["ndcg@10"]["mean"], summary["item-knn"]["all"]["ndcg@10"]["mean"]
        pf = summary["personal-frequency"]["all"]["ndcg@10"]["mean"]
        print(f"model / item-knn = {m / knn:.2f}x; model - personal-frequency = {m - pf:+.4f}")
    return figures


def scale(args: argparse.Namespace) -> dict:
    from recsys_dr.model.data import fingerprint
    from recsys_dr.model.evaluate import evaluate_all, format_table
    from recsys_dr.model.export import export_version
    from recsys_dr.model.split import leave_last_out
    from recsys_dr.model.synthetic import SyntheticConfig, generate
    from recsys_dr.model.train import TrainConfig, train

    stages: dict[str, float] = {}
    start = t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        stages[name] = round(now - t, 1)
        t = now
        print(f"{name}: {stages[name]:.1f} s (peak RSS {_peak_rss_mib():,.0f} MiB)", flush=True)

    per_cat = -(-args.items // 12)
    data = generate(SyntheticConfig(num_users=args.users, num_categories=12, items_per_category=per_cat,
                                    min_events=args.min_events, max_events=args.max_events, seed=1),
                    pseudonym_key="benchmark")
    lap("generate")
    # One pass over the data, as the budget says: no refit after the (single) epoch.
    config = TrainConfig(history_length=args.history_length, epochs=1, batch_size=args.batch_size, seed=42,
                         validation_users=args.validation_users, refit=False)
    split = leave_last_out(data, config.history_length)
    lap("split")
    trained = train(split, data.item_ids, config, show_progress=False)
    lap("train")
    metrics = evaluate_all(trained.scores, split, data.item_ids)
    lap("evaluate")
    print(format_table(metrics))
    out = Path(args.out or tempfile.mkdtemp(prefix="model-scale-"))
    version_dir = export_version(trained, out, metrics=metrics, titles=data.catalog["title"].tolist(),
                                 data_fingerprint=fingerprint(data, history_length=config.history_length))
    lap("export")
    total = round(time.perf_counter() - start, 1)
    files = {str(f.relative_to(version_dir)): f.stat().st_size for f in version_dir.rglob("*") if f.is_file()}
    artifact = sum(files.values())
    weights = int(sum(w.numpy().nbytes for w in trained.model.weights))
    variables = sum(v for k, v in files.items() if k.startswith("variables/"))

    # Timed in fresh processes that load only the SavedModel, as a server would (no training
    # state or thread pools left over); see LATENCY_RUNS.
    latency = {_run_label(*run): _latency_in_subprocess(version_dir, args.iterations, args.rounds, *run)
               for run in LATENCY_RUNS}
    figures = {
        "items": len(data.catalog), "interactions": len(data.interactions), "users": args.users,
        "train_examples": len(split.train), "test_users": len(split.test), "stages_s": stages, "total_s": total,
        "peak_rss_mib": round(_peak_rss_mib(), 1), "artifact_bytes": artifact, "weight_bytes": weights,
        "variables_bytes": variables, "artifact_over_weights": round(artifact / weights, 3),
        "variables_over_weights": round(variables / weights, 3), "files": files, "latency": latency,
        "metrics": metrics, "training": trained.history, "config": config.to_dict(), "version_dir": str(version_dir),
    }
    print(f"\nend to end: {total:.1f} s (limit 1200 s); peak RSS {figures['peak_rss_mib']:,.0f} MiB")
    print(f"artifact {artifact / 1e6:.1f} MB; weights {weights / 1e6:.1f} MB; variables/ {variables / 1e6:.1f} MB "
          f"({figures['variables_over_weights']}x weights; whole artifact {figures['artifact_over_weights']}x)")
    _print_latency(latency)
    return figures


# (client, intra-op threads, inter-op threads); 0 threads = TensorFlow's default (one per core),
# which TF Serving keeps unless --tensorflow_intra_op_parallelism /
# --tensorflow_inter_op_parallelism say otherwise (tensorflow_serving/model_servers/server.cc).
LATENCY_RUNS = (("session", 0, 0), ("session", 1, 2), ("python", 0, 0))


def _run_label(client: str, intra: int, inter: int) -> str:
    """``"session, default threads"``, ``"session, intra 1, inter 2"``: a latency run's name."""
    threads = f"intra {intra or 'default'}, inter {inter or 'default'}" if intra or inter else "default threads"
    return f"{client}, {threads}"


def _latency_in_subprocess(version_dir: Path, iterations: int, rounds: int, client: str, intra: int, inter: int) -> dict:
    import subprocess
    import sys

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "latency.json"
        command = [sys.executable, "-m", "benchmarks.model_benchmark", "latency", str(version_dir),
                   "--client", client, "--iterations", str(iterations), "--rounds", str(rounds),
                   "--intra-op-threads", str(intra), "--inter-op-threads", str(inter), "--json", str(out)]
        proc = subprocess.run(command, check=False, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        if proc.returncode:  # its TensorFlow log lines only matter then
            sys.stderr.write(proc.stderr)
            proc.check_returncode()
        return json.loads(out.read_text())["latency"]


def _print_latency(latency: dict) -> None:
    print(f"{'client, threads':<28}{'batch':>6}{'p50 ms':>10}{'p99 ms':>10}{'p99 by round':>18}{'examples/s':>13}")
    for run, paths in latency.items():
        for v in paths.values():
            by_round = v["round_p99_ms"]
            spread = f"{min(by_round):.2f}-{max(by_round):.2f} ({len(by_round)})" if len(by_round) > 1 else "-"
            print(f"{run:<28}{v['batch']:>6}{v['p50_ms']:>10.2f}{v['p99_ms']:>10.2f}{spread:>18}"
                  f"{v['examples_per_s']:>13.0f}")


def _session_client(tf, version_dir: Path, intra: int, inter: int):
    """``{input: ndarray} -> outputs`` through one ``Session.run`` of the SignatureDef's tensors:
    what TF Serving does per Predict request (tensorflow_serving/servables/tensorflow/
    predict_util.cc, RunPredict -> session->Run, on the session tensorflow/cc/saved_model/
    loader.cc builds), without Python's eager function-call layer in between."""
    from recsys_dr.model.export import SIGNATURE

    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=intra, inter_op_parallelism_threads=inter)
    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph, config=config)
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")  # no deprecation notice: this TF 1 loader is the Session path being timed
    try:
        with graph.as_default():
            meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(version_dir))
    finally:
        logger.setLevel(level)
    signature = meta.signature_def[SIGNATURE]
    names = sorted(signature.inputs)
    run = session.make_callable([signature.outputs[k].name for k in sorted(signature.outputs)],
                                [signature.inputs[k].name for k in names])
    return lambda request: run(*(request[k] for k in names))


def _python_client(tf, version_dir: Path, intra: int, inter: int):
    """``{input: ndarray} -> outputs`` through ``tf.saved_model.load(...).signatures``: the
    eager TF 2 call (argument conversion, nested function calls) on top of the same graph."""
    from recsys_dr.model.export import SIGNATURE

    if intra or inter:  # before TensorFlow runs its first op
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    fn = tf.saved_model.load(str(version_dir)).signatures[SIGNATURE]
    return lambda request: fn(**request)


def latency(args: argparse.Namespace) -> dict:
    """Time ``serving_default`` of an exported version on its own warmup requests of batch 1 and 64."""
    from recsys_dr.model.export import WARMUP_PATH, read_warmup
    from recsys_dr.model.quiet import import_tensorflow

    tf = import_tensorflow()
    client = {"session": _session_client, "python": _python_client}[args.client]
    call = client(tf, args.version_dir, args.intra_op_threads, args.inter_op_threads)
    # The last request of each batch size is the generated batch (the two edge cases before it are batch 1 too).
    requests = {len(r["query"]): r for r in read_warmup(args.version_dir / WARMUP_PATH)}
    if args.client == "python":
        requests = {b: {k: tf.constant(v) for k, v in r.items()} for b, r in requests.items()}
    # Batch 1 (the latency target) in --rounds rounds; batch 64 (throughput) in one.
    timings = {f"serving_default_b{b}": _timings(lambda r=requests[b]: call(r), args.iterations, b, rounds)
               for b, rounds in ((1, args.rounds), (64, 1))}
    figures = {"version_dir": str(args.version_dir), "client": args.client, "intra_op_threads": args.intra_op_threads,
               "inter_op_threads": args.inter_op_threads, "latency": timings}
    _print_latency({_run_label(args.client, args.intra_op_threads, args.inter_op_threads): timings})
    return figures


def main(argv: list[str] | None = None) -> int:
    from recsys_dr.model.config import TrainConfig

    defaults = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m benchmarks.model_benchmark", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quality", help="MovieLens-100K and the repeat-heavy shop over seeds")
    q.add_argument("--seeds", default="42,43,44", help="training seeds (default: 42,43,44)")
    q.add_argument("--epochs", type=int, default=defaults.epochs,
                   help=f"most epochs; early stopping on validation (default: {defaults.epochs})")
    q.add_argument("--history-length", type=int, default=defaults.history_length, help=f"default: {defaults.history_length}")
    q.add_argument("--shop-users", type=int, default=2000, help="synthetic shoppers (default: 2000)")
    q.add_argument("--with-derived", action="store_true", help="also the derived-query MovieLens variant (first seed)")
    q.add_argument("--json", type=Path, default=Path("benchmarks/results/model_quality.json"))
    s = sub.add_parser("scale", help="end-to-end build at catalog scale")
    s.add_argument("--items", type=int, default=100_000, help="catalog size (default: 100000)")
    s.add_argument("--users", type=int, default=50_000, help="shoppers (default: 50000; ~20 events each)")
    s.add_argument("--min-events", type=int, default=10, help="default: 10")
    s.add_argument("--max-events", type=int, default=30, help="default: 30")
    s.add_argument("--history-length", type=int, default=defaults.history_length, help=f"default: {defaults.history_length}")
    s.add_argument("--batch-size", type=int, default=1024, help="default: 1024")
    s.add_argument("--validation-users", type=int, default=defaults.validation_users, help=f"default: {defaults.validation_users}")
    s.add_argument("--iterations", type=int, default=1000, help="timed serving calls per round (default: 1000)")
    s.add_argument("--rounds", type=int, default=5, help="rounds of --iterations calls at batch 1 (default: 5)")
    s.add_argument("--out", type=Path, default=None, help="export here (default: a temporary directory)")
    s.add_argument("--json", type=Path, default=Path("benchmarks/results/model_scale.json"))
    lat = sub.add_parser("latency", help="serving_default latency of an exported version (its warmup requests)")
    lat.add_argument("version_dir", type=Path)
    lat.add_argument("--client", choices=("session", "python"), default="session",
                     help="session: Session.run of the signature's tensors, as TF Serving runs it; "
                          "python: tf.saved_model.load(...).signatures (default: session)")
    lat.add_argument("--iterations", type=int, default=1000, help="timed calls per round (default: 1000)")
    lat.add_argument("--rounds", type=int, default=5, help="rounds of --iterations calls at batch 1 (default: 5)")
    lat.add_argument("--intra-op-threads", type=int, default=0, help="0 = TensorFlow's default (default: 0)")
    lat.add_argument("--inter-op-threads", type=int, default=0, help="0 = TensorFlow's default (default: 0)")
    lat.add_argument("--json", type=Path, default=Path("benchmarks/results/model_latency.json"))
    args = p.parse_args(argv)

    import logging

    from recsys_dr.model.quiet import import_tensorflow

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tf = import_tensorflow()
    figures = {"quality": quality, "scale": scale, "latency": latency}[args.command](args)
    figures["machine"] = {"tensorflow": tf.__version__, "cpu": platform.processor() or platform.machine(),
                          "cpu_count": os.cpu_count()}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
