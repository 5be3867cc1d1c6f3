"""Benchmarks of the recommender: quality over seeds, and an end-to-end build at catalog scale.

Run from the repository root::

    python -m benchmarks.model_benchmark quality            # MovieLens-100K, shop, Complete Journey; 3 seeds
    python -m benchmarks.model_benchmark scale              # 100k items, 1M interactions, one epoch
    python -m benchmarks.model_benchmark steps              # training step time against the history length

``quality`` trains one model per seed (``--seeds``, default 42,43,44) on each dataset and
prints mean +- std (population std over the seeds) of every method's metrics on the test
items, ties broken at random in expectation:

* ``movielens``: MovieLens-100K history only (empty queries), seen items excluded - the
  headline;
* ``shop``: the synthetic shop with staples on a cycle (repeat-heavy), its own queries,
  nothing excluded (re-buys are legitimate answers), split by re-buy / new item;
* ``completejourney``: Complete Journey's grocery lines (simulated from real shopping
  patterns, see :mod:`model.completejourney`), baskets held out whole, nothing excluded, split
  by re-buy / new item; batches of 1,024, a 262,144-line sample per epoch, at most 4 epochs
  and no refit (:data:`QUALITY_DATASETS`);
* ``movielens-derived`` (``--with-derived``, one seed): queries built from the target
  movie's genres and title - the answer is in the input, so this measures the query tower.

Each dataset also ranks with the fallback version ``build`` exports (:mod:`model.fallback`,
category step chosen on the validation items, evaluated through its exported ``score_catalog``).
Baselines and the fallback are deterministic, so their std over training seeds is 0 (the data do
not change). Each dataset ends with the model's NDCG@10 over item-kNN's and over personal
frequency's (overall and on the re-buy slice), and the fallback's over personal frequency's.

``batching`` serves an exported version to 1, 8 and 32 concurrent clients sending one-row requests,
once with each call its own ``Session.run`` (TF Serving without ``--enable_batching``) and once
through a batch scheduler that merges concurrent calls into one ``Session.run``, and prints
requests per second, p50 / p99 latency and the batched/unbatched throughput ratio. TF Serving's
scheduler is C++ (no binary here), so ``BatchScheduler`` below re-implements the semantics of its
``BasicBatchScheduler`` in Python; the session path is the one TF Serving runs.

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

from benchmarks.figures import write_figures

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
    from recsys_dr.model.completejourney import load_complete_journey
    from recsys_dr.model.movielens import load_movielens_100k
    from recsys_dr.model.synthetic import SyntheticConfig, generate

    if name == "completejourney":
        return load_complete_journey(pseudonym_key="benchmark"), False
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


# Per dataset: rank the full catalog or drop seen items, and training settings beside the defaults.
# Complete Journey's 1.4M training lines: batches of 1,024, a fresh 262,144-line sample per
# epoch (validation every 256 steps), at most 4 such epochs (about 0.75 of a pass) and no
# refit (the validation lines are 0.2 % of the training lines), so three seeds fit this 2-core
# machine's time.
QUALITY_DATASETS = {
    "movielens": {"exclude_seen": True, "train": {}},
    "shop": {"exclude_seen": False, "train": {}},
    "completejourney": {"exclude_seen": False,
                        "train": {"batch_size": 1024, "epoch_examples": 262_144, "epochs": 4, "refit": False}},
    "movielens-derived": {"exclude_seen": True, "train": {}},
}


def quality(args: argparse.Namespace) -> dict:
    from recsys_dr.model.evaluate import evaluate_all, fitted_baselines
    from recsys_dr.model.split import leave_last_out
    from recsys_dr.model.train import TrainConfig, train

    seeds = [int(s) for s in args.seeds.split(",")]
    names = [n for n in args.datasets.split(",") if n]
    unknown = sorted(set(names) - set(QUALITY_DATASETS))
    if unknown:
        raise SystemExit(f"--datasets: unknown {unknown}; one of: {', '.join(QUALITY_DATASETS)}")
    plan = [(n, seeds) for n in names] + ([("movielens-derived", seeds[:1])] if args.with_derived else [])
    figures: dict = {}
    for name, run_seeds in plan:
        data, exclude_seen = _dataset(name, args.shop_users)
        split = leave_last_out(data, args.history_length)
        baselines = fitted_baselines(split, data.item_ids)
        fallback, selection = _fallback_figures(split, data, args.history_length, exclude_seen)
        runs, trainings = [], []
        for seed in run_seeds:
            config = TrainConfig(**{"history_length": args.history_length, "epochs": args.epochs, "seed": seed}
                                 | QUALITY_DATASETS[name]["train"])
            trained = train(split, data.item_ids, config, show_progress=False, exclude_seen=exclude_seen)
            runs.append(evaluate_all(trained.scores, split, data.item_ids, exclude_seen=exclude_seen, baselines=baselines)
                        | fallback)
            trainings.append({"seed": seed, "best_epoch": trained.best_epoch, "train_seconds": round(trained.train_seconds, 1),
                              "history": trained.history})
            print(f"{name} seed {seed}: model ndcg@10 {runs[-1]['model']['all']['ndcg@10']:.4f} "
                  f"(epoch {trained.best_epoch}, {trained.train_seconds:.0f} s)", flush=True)
        summary = _summarise(runs)
        figures[name] = {"dataset": data.name, "exclude_seen": exclude_seen, "seeds": run_seeds, "summary": summary,
                         "runs": runs, "training": trainings, "config": config.to_dict(),
                         "test_users": len(split.test), "items": len(data.catalog), "fallback_selection": selection}
        _print_summary(f"{name}: {data.name}, {len(split.test)} test users, {len(data.catalog)} items, "
                       f"exclude_seen={exclude_seen}, seeds {run_seeds} (mean ± std)", summary)
        _print_ratios(summary)
    return figures


def _fallback_figures(split, data, history_length: int, exclude_seen: bool) -> tuple[dict, dict]:
    """``({"fallback": metrics}, category selection)``: the fallback version ``build`` exports for this
    split, evaluated through its exported ``score_catalog`` (deterministic: once per dataset)."""
    from recsys_dr.model.fallback import METHOD, FallbackCounts, export_fallback, select_categories

    selection = select_categories(split, data.catalog, history_length, exclude_seen=exclude_seen)
    with tempfile.TemporaryDirectory(prefix="fallback-benchmark-") as out:
        _, found = export_fallback(FallbackCounts.for_split(split, data.catalog), Path(out), model_name="recommender",
                                   version=1, history_length=history_length, data_fingerprint="sha256:benchmark",
                                   categories=selection["categories"], split=split, exclude_seen=exclude_seen)
    print(f"fallback: category step {'on' if selection['categories'] else 'off'} "
          f"({selection.get('reason') or selection['validation_ndcg@10']}), ndcg@10 {found['all']['ndcg@10']:.4f}", flush=True)
    return {METHOD: found}, selection


def _print_ratios(summary: dict) -> None:
    """The model's NDCG@10 over item-kNN's and personal frequency's, overall and on re-buys."""
    def mean(method: str, group: str = "all") -> float | None:
        v = summary[method].get(group, {}).get("ndcg@10")
        return v["mean"] if v else None

    m, knn, pf = mean("model"), mean("item-knn"), mean("personal-frequency")
    line = f"model / item-knn = {m / knn:.2f}x; model / personal-frequency = {m / pf:.3f}x"
    if mean("model", "repeat") is not None and mean("personal-frequency", "repeat"):
        line += f" (re-buys {mean('model', 'repeat') / mean('personal-frequency', 'repeat'):.3f}x)"
    if "fallback" in summary:
        line += f"; fallback / personal-frequency = {mean('fallback') / pf:.3f}x"
    print(line)


def steps(args: argparse.Namespace) -> dict:
    """Training step time against the history length, on random ids (a third of each row padding)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from recsys_dr.model.network import build_network
    from recsys_dr.model.train import TrainConfig, train_step, set_seed

    out = {}
    for length in (int(x) for x in args.history_lengths.split(",")):
        config = TrainConfig(history_length=length, batch_size=args.batch_size)
        set_seed(0)
        net = build_network(num_items=args.items, query_vocab_size=10, query_length=config.query_length,
                            history_length=length, config=config.network)
        optimizer = keras.optimizers.Adam(config.learning_rate, use_ema=True, ema_momentum=config.ema_momentum)
        step = train_step(net, optimizer, config, [0.0, 0.0] + [1.0] * args.items)
        rng = np.random.default_rng(0)
        h = rng.integers(2, min(args.items, 2_000) + 2, size=(args.batch_size, length))
        h[:, : length // 3] = 0
        batch = (tf.zeros((args.batch_size, config.query_length), tf.int64), tf.constant(h),
                 tf.constant(rng.integers(0, args.items, size=args.batch_size)))
        for _ in range(3):
            step(batch)
        t = time.perf_counter()
        for _ in range(args.iterations):
            float(step(batch)[0])
        out[length] = round((time.perf_counter() - t) / args.iterations * 1e3, 1)
        print(f"history {length:>4}: {out[length]:.1f} ms per step of {args.batch_size} ({args.items:,} items)", flush=True)
    return {"items": args.items, "batch_size": args.batch_size, "ms_per_step": out}


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


class BatchScheduler:
    """TensorFlow's ``BasicBatchScheduler`` (tensorflow/core/kernels/batching_util/
    basic_batch_scheduler.h, shared_batch_scheduler.h), the scheduler TF Serving's batching session
    uses, in Python:

    * a task joins the open batch if its rows fit ``max_batch_size``, else that batch closes and a
      new one opens; a task larger than a batch is refused (InvalidArgument);
    * at most ``max_enqueued_batches`` batches wait (the open one included); beyond, ``schedule``
      refuses (UNAVAILABLE);
    * ``num_batch_threads`` threads each take the oldest batch once it is full or
      ``batch_timeout_micros`` after its first task arrived, and run it as one call.
    """

    def __init__(self, run_batch, *, max_batch_size: int, batch_timeout_micros: int, num_batch_threads: int,
                 max_enqueued_batches: int) -> None:
        import collections
        import threading

        self._run_batch, self.max_batch_size = run_batch, max_batch_size
        self._timeout, self._max_enqueued = batch_timeout_micros / 1e6, max_enqueued_batches
        self._ready = threading.Condition()
        self._batches: collections.deque = collections.deque()
        self._stopping = False
        self.batch_sizes: list[int] = []
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(num_batch_threads)]
        for thread in self._threads:
            thread.start()

    def schedule(self, rows: int, payload):
        """Enqueue a task of `rows` rows; returns a Future of its part of the batch's result."""
        from concurrent.futures import Future

        if rows > self.max_batch_size:
            raise ValueError(f"Task size {rows} is larger than maximum input batch size {self.max_batch_size}")
        future: Future = Future()
        with self._ready:
            open_batch = self._batches[-1] if self._batches and not self._batches[-1]["closed"] else None
            if open_batch is None or open_batch["rows"] + rows > self.max_batch_size:
                if open_batch is not None:
                    open_batch["closed"] = True
                if len(self._batches) >= self._max_enqueued:
                    raise RuntimeError("The batch scheduling queue to which this task was submitted is full")
                open_batch = {"tasks": [], "rows": 0, "opened": time.perf_counter(), "closed": False}
                self._batches.append(open_batch)
            open_batch["tasks"].append((rows, payload, future))
            open_batch["rows"] += rows
            open_batch["closed"] = open_batch["rows"] == self.max_batch_size
            self._ready.notify_all()
        return future

    def _work(self) -> None:
        while True:
            with self._ready:
                while True:
                    if self._stopping:
                        return
                    if self._batches:
                        wait = self._batches[0]["opened"] + self._timeout - time.perf_counter()
                        if self._batches[0]["closed"] or wait <= 0:
                            batch = self._batches.popleft()
                            batch["closed"] = True
                            break
                        self._ready.wait(wait)
                    else:
                        self._ready.wait()
            self.batch_sizes.append(batch["rows"])
            try:
                results = self._run_batch([payload for _, payload, _ in batch["tasks"]])
                for (_, _, future), result in zip(batch["tasks"], results):
                    future.set_result(result)
            except Exception as error:  # noqa: BLE001 - every caller in the batch sees the failure
                for _, _, future in batch["tasks"]:
                    future.set_exception(error)

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()


def _merged_session_call(call):
    """A batch of `{input: ndarray}` requests as one Session.run, split back per request (what TF
    Serving's batching session does with the tensors of the tasks it merged)."""
    import numpy as np

    def run_batch(requests: list[dict]) -> list:
        names = sorted(requests[0])
        merged = {name: np.concatenate([r[name] for r in requests]) for name in names}
        outputs = call(merged)
        bounds = np.cumsum([0] + [len(r[names[0]]) for r in requests])
        return [[out[a:b] for out in outputs] for a, b in zip(bounds[:-1], bounds[1:])]

    return run_batch


def _drive(serve, requests: list[dict], clients: int, seconds: float) -> dict:
    """`clients` threads, each sending one request at a time for `seconds`: requests/s, p50 / p99 ms."""
    import threading

    import numpy as np

    latencies: list[list[float]] = [[] for _ in range(clients)]
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        request = 0
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            serve(requests[(index + request * clients) % len(requests)])
            latencies[index].append(time.perf_counter() - start)
            request += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ms = np.concatenate([np.array(lat) for lat in latencies]) * 1e3
    return {"clients": clients, "requests": len(ms), "requests_per_s": len(ms) / elapsed,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def batching(args: argparse.Namespace) -> dict:
    """Throughput and latency of one-row requests, each its own Session.run vs merged by the scheduler."""
    import os as _os

    from recsys_dr.model.export import WARMUP_PATH, read_warmup
    from recsys_dr.model.quiet import import_tensorflow

    tf = import_tensorflow()
    call = _session_client(tf, args.version_dir, 0, 0)
    largest = max(read_warmup(args.version_dir / WARMUP_PATH), key=lambda r: len(r["query"]))
    rows = [{name: value[i:i + 1] for name, value in largest.items()} for i in range(len(largest["query"]))]
    for row in rows[:10]:  # warm the session's kernels for both paths
        call(row)
    scheduler_options = {"max_batch_size": args.max_batch_size, "batch_timeout_micros": args.batch_timeout_micros,
                         "num_batch_threads": args.num_batch_threads or _os.cpu_count(),
                         "max_enqueued_batches": args.max_enqueued_batches}
    runs: dict = {"unbatched": {}, "batched": {}}
    for clients in args.clients:
        runs["unbatched"][str(clients)] = _drive(call, rows, clients, args.seconds)
        scheduler = BatchScheduler(_merged_session_call(call), **scheduler_options)
        try:
            figures = _drive(lambda r, s=scheduler: s.schedule(1, r).result(), rows, clients, args.seconds)
        finally:
            scheduler.stop()
        figures["mean_batch_rows"] = sum(scheduler.batch_sizes) / max(len(scheduler.batch_sizes), 1)
        runs["batched"][str(clients)] = figures
    ratios = {c: runs["batched"][c]["requests_per_s"] / runs["unbatched"][c]["requests_per_s"] for c in runs["batched"]}
    print(f"{'clients':>8}{'unbatched req/s':>17}{'p99 ms':>9}{'batched req/s':>15}{'p99 ms':>9}{'rows/batch':>12}{'ratio':>8}")
    for c, ratio in ratios.items():
        u, b = runs["unbatched"][c], runs["batched"][c]
        print(f"{c:>8}{u['requests_per_s']:>17.0f}{u['p99_ms']:>9.2f}{b['requests_per_s']:>15.0f}{b['p99_ms']:>9.2f}"
              f"{b['mean_batch_rows']:>12.1f}{ratio:>8.2f}")
    return {"version_dir": str(args.version_dir), "scheduler": scheduler_options, "seconds": args.seconds, "runs": runs,
            "throughput_ratio": ratios}


def build_parser() -> argparse.ArgumentParser:
    """The command line (the docs' name check reads its commands and flags too)."""
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
    q.add_argument("--datasets", default="movielens,shop,completejourney",
                   help="comma-separated, of: movielens, shop, completejourney (default: all three)")
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
    st = sub.add_parser("steps", help="training step time against the history length")
    st.add_argument("--history-lengths", default="20,64,128,256", help="default: 20,64,128,256")
    st.add_argument("--items", type=int, default=68_509, help="catalog size (default: 68509, Complete Journey's)")
    st.add_argument("--batch-size", type=int, default=1024, help="default: 1024")
    st.add_argument("--iterations", type=int, default=20, help="timed steps per length (default: 20)")
    st.add_argument("--json", type=Path, default=Path("benchmarks/results/model_steps.json"))
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
    bat = sub.add_parser("batching", help="batched vs unbatched serving_default at 1/8/32 concurrent one-row clients")
    bat.add_argument("version_dir", type=Path)
    bat.add_argument("--clients", type=lambda v: [int(c) for c in v.split(",")], default=[1, 8, 32],
                     help="concurrent clients, comma-separated (default: 1,8,32)")
    bat.add_argument("--seconds", type=float, default=5.0, help="per run (default: 5)")
    bat.add_argument("--max-batch-size", type=int, default=64, help="default: 64 (model.maxBatch's default)")
    bat.add_argument("--batch-timeout-micros", type=int, default=2000, help="default: 2000 (serving.batching's)")
    bat.add_argument("--num-batch-threads", type=int, default=0, help="0 = the CPU count (default: 0)")
    bat.add_argument("--max-enqueued-batches", type=int, default=1000,
                     help="default: 1000 (large, so no request is refused while measuring)")
    bat.add_argument("--json", type=Path, default=Path("benchmarks/results/model_batching.json"))
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    import logging

    from recsys_dr.model.quiet import import_tensorflow

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tf = import_tensorflow()
    figures = {"quality": quality, "scale": scale, "steps": steps, "latency": latency,
               "batching": batching}[args.command](args)
    figures["machine"] = {"tensorflow": tf.__version__, "cpu": platform.processor() or platform.machine(),
                          "cpu_count": os.cpu_count()}
    print()
    write_figures(args.json, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
