"""``python -m recsys_dr.model build|evaluate|export|publish|verify|inspect``.

Exit codes: 0 success; 1 the operation ran but failed (verification mismatch, publish
conflict, S3 / connection / credential error, missing or invalid manifest, any unexpected
error - one line on stderr, the traceback with ``-v``); 2 usage error (bad arguments,
unusable input data, real data without a pseudonymisation key, an existing version
directory).

TensorFlow and boto3 are imported inside the handlers, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import sys
from pathlib import Path

from recsys_dr.model import DEFAULT_MODEL_NAME
from recsys_dr.model.quiet import import_tensorflow

log = logging.getLogger("model")

DEFAULT_OUT = Path("artifacts")
BUNDLES = ".bundles"  # <out>/.bundles/<model-name>/ holds the weights `export` re-exports


class UsageError(Exception):
    """Bad arguments or input: exit code 2."""


# ---------------------------------------------------------------- data + training options
def _add_data_args(p: argparse.ArgumentParser) -> None:
    from recsys_dr.model.config import DEFAULT_SAMPLE_USERS

    g = p.add_argument_group("data")
    g.add_argument("--data", choices=("synthetic", "movielens", "completejourney", "files"), default=None,
                   help="data source (default: synthetic; 'files' when --interactions is given)")
    g.add_argument("--interactions", help="interaction log, CSV or Parquet (user_id,item_id,timestamp[,query,event_type]); "
                                          "a directory or s3://bucket/prefix/ of Parquet shards, each user in one, is streamed")
    g.add_argument("--catalog", help="catalog, CSV or Parquet (item_id,title,category); s3:// with sharded --interactions")
    g.add_argument("--sample-users", type=int, default=DEFAULT_SAMPLE_USERS,
                   help="sharded --interactions: users whose held-out items are kept for selection and evaluation "
                        f"(default: {DEFAULT_SAMPLE_USERS})")
    g.add_argument("--strict", action="store_true", help="fail on interactions with unknown item ids instead of dropping them")
    # Never the key itself on the command line: it would show in the process list and shell history.
    g.add_argument("--pseudonym-key-file", type=Path, default=None, metavar="PATH",
                   help="file holding the HMAC key for user ids (default: $RECSYS_PSEUDONYM_KEY; synthetic/MovieLens "
                        "fall back to a public dev-only key, --data files refuses to unless --allow-dev-key)")
    g.add_argument("--allow-dev-key", action="store_true",
                   help="--data files: accept the public development pseudonym key (test data only, never real users)")
    g.add_argument("--synthetic-users", type=int, default=400, help="synthetic shoppers (default: 400)")
    g.add_argument("--synthetic-seed", type=int, default=0, help="synthetic data seed (default: 0)")
    g.add_argument("--synthetic-staples", type=int, default=2,
                   help="synthetic: staples each shopper re-buys on a cycle (default: 2; 0 = no re-buys)")
    g.add_argument("--movielens-queries", choices=("none", "derived"), default="none",
                   help="MovieLens: 'none' = history only (default, the honest measure); 'derived' = each "
                        "query made from the target movie's genres and title (the answer is in the input)")
    g.add_argument("--title-words", type=int, default=1, help="--movielens-queries derived: title words per query (default: 1)")
    g.add_argument("--exclude-seen", action="store_true",
                   help="evaluation: drop each user's past items from the ranking (default: rank the full catalog)")


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from recsys_dr.model.config import NetworkConfig, TrainConfig

    t, n = TrainConfig(), NetworkConfig()  # the defaults, declared once there
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=t.epochs, help=f"most epochs (default: {t.epochs})")
    g.add_argument("--patience", type=int, default=t.patience,
                   help=f"epochs without validation improvement before stopping (default: {t.patience})")
    g.add_argument("--batch-size", type=int, default=t.batch_size, help=f"default: {t.batch_size}")
    g.add_argument("--learning-rate", type=float, default=t.learning_rate, help=f"default: {t.learning_rate}")
    g.add_argument("--ema-momentum", type=float, default=t.ema_momentum,
                   help=f"keep a moving average of the weights over the steps; 0 = the last step's (default: {t.ema_momentum})")
    g.add_argument("--num-sampled", type=int, default=t.num_sampled,
                   help=f"sampled-softmax negatives per batch; the exact softmax when 2 x this >= the catalog (default: {t.num_sampled})")
    g.add_argument("--embedding-dim", type=int, default=n.embedding_dim, help=f"default: {n.embedding_dim}")
    g.add_argument("--attention-blocks", type=int, default=n.attention_blocks,
                   help=f"self-attention blocks over the history (default: {n.attention_blocks})")
    g.add_argument("--attention-heads", type=int, default=n.attention_heads, help=f"default: {n.attention_heads}")
    units = ",".join(map(str, n.hidden_units))
    g.add_argument("--hidden-units", default=units, help=f"comma-separated ReLU layer widths of the user tower (default: {units})")
    g.add_argument("--dropout", type=float, default=n.dropout, help=f"default: {n.dropout}")
    g.add_argument("--no-repeat", action="store_true", help="no repeat head / gate: explore scores only")
    g.add_argument("--history-length", type=int, default=t.history_length, help=f"history items L (default: {t.history_length})")
    g.add_argument("--query-length", type=int, default=t.query_length, help=f"query tokens Q (default: {t.query_length})")
    g.add_argument("--query-token-min-users", type=int, default=t.query_token_min_users,
                   help=f"keep a query token only if this many distinct users typed it (default: {t.query_token_min_users})")
    g.add_argument("--epoch-examples", type=int, default=t.epoch_examples,
                   help="training examples per epoch, a fresh sample each epoch; 0 = all (default: 0)")
    g.add_argument("--validation-users", type=int, default=t.validation_users,
                   help=f"validation examples ranked per epoch (default: {t.validation_users})")
    g.add_argument("--no-refit", action="store_true",
                   help="keep the selected epoch's weights instead of refitting on training + validation interactions")
    g.add_argument("--seed", type=int, default=t.seed, help=f"training seed (default: {t.seed})")


def _add_strategy_args(p: argparse.ArgumentParser) -> None:
    from recsys_dr.model.distributed import DEFAULT_STRATEGY, DEFAULT_WORKER_TIMEOUT, STRATEGIES

    g = p.add_argument_group("distribution (see recsys_dr.model.distributed)")
    g.add_argument("--strategy", choices=STRATEGIES, default=DEFAULT_STRATEGY,
                   help="one-device (default); mirrored = every local GPU; multi-worker = the processes named in "
                        "TF_CONFIG (or an indexed Job's environment). --batch-size is the global batch")
    g.add_argument("--worker-timeout", type=int, default=DEFAULT_WORKER_TIMEOUT, metavar="SECONDS",
                   help=f"multi-worker: seconds a step waits for the other workers before failing "
                        f"(default: {DEFAULT_WORKER_TIMEOUT})")


def _add_out_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="artifacts root (default: artifacts/)")
    p.add_argument("--model-name", default=DEFAULT_MODEL_NAME, help=f"default: {DEFAULT_MODEL_NAME}")
    p.add_argument("--version", type=int, default=None, help="version number (default: next free one)")
    p.add_argument("--top-k", type=int, default=10, help="items returned by serving_default (default: 10)")


def _pseudonym_key(args: argparse.Namespace) -> str | None:
    """The key in --pseudonym-key-file (trailing newline dropped), or None: the environment decides."""
    if args.pseudonym_key_file is None:
        return None
    try:
        key = args.pseudonym_key_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"--pseudonym-key-file {args.pseudonym_key_file}: cannot read it ({err})") from None
    if not key:
        raise UsageError(f"--pseudonym-key-file {args.pseudonym_key_file} is empty")
    return key


def _load_data(args: argparse.Namespace):
    from recsys_dr.model.data import load_dataset

    source = args.data or ("files" if args.interactions else "synthetic")
    if source == "files":
        if not (args.interactions and args.catalog):
            raise UsageError("--data files needs both --interactions and --catalog")
        return load_dataset(args.interactions, args.catalog, pseudonym_key=_pseudonym_key(args), strict=args.strict,
                            allow_dev_key=args.allow_dev_key)
    if args.interactions or args.catalog:
        raise UsageError(f"--interactions/--catalog conflict with --data {source}")
    if source == "completejourney":
        from recsys_dr.model.completejourney import load_complete_journey

        return load_complete_journey(pseudonym_key=_pseudonym_key(args))
    if source == "movielens":
        from recsys_dr.model.movielens import load_movielens_100k

        return load_movielens_100k(pseudonym_key=_pseudonym_key(args), title_words=args.title_words,
                                   queries=args.movielens_queries == "derived")
    from recsys_dr.model.synthetic import SyntheticConfig, generate

    try:
        config = SyntheticConfig(num_users=args.synthetic_users, seed=args.synthetic_seed, staples=args.synthetic_staples)
    except ValueError as err:
        raise UsageError(str(err)) from None
    return generate(config, pseudonym_key=_pseudonym_key(args))


def _train_config(args: argparse.Namespace):
    from recsys_dr.model.config import NetworkConfig, TrainConfig

    try:
        units = tuple(int(u) for u in str(args.hidden_units).split(",") if u.strip())
    except ValueError:
        raise UsageError(f"--hidden-units must be comma-separated integers. Received: {args.hidden_units!r}") from None
    try:  # the configs validate their values; a bad value is a usage error
        net = NetworkConfig(embedding_dim=args.embedding_dim, attention_blocks=args.attention_blocks,
                            attention_heads=args.attention_heads, hidden_units=units, dropout=args.dropout,
                            repeat=not args.no_repeat)
        return TrainConfig(network=net, history_length=args.history_length, query_length=args.query_length,
                           query_token_min_users=args.query_token_min_users,
                           epochs=args.epochs, patience=args.patience, batch_size=args.batch_size,
                           learning_rate=args.learning_rate, ema_momentum=args.ema_momentum,
                           num_sampled=args.num_sampled, epoch_examples=args.epoch_examples,
                           validation_users=args.validation_users, refit=not args.no_refit, seed=args.seed)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _runtime(args: argparse.Namespace, config):
    """The ``tf.distribute`` runtime of ``--strategy``; a configuration it cannot run is a usage error."""
    from recsys_dr.model.distributed import DistributedError, make_runtime

    try:
        runtime = make_runtime(args.strategy, timeout_seconds=args.worker_timeout)
        runtime.per_replica_batch(config.batch_size)
    except DistributedError as err:
        raise UsageError(str(err)) from None
    return runtime


def _check_out_args(args: argparse.Namespace) -> None:
    """Validate --model-name, --version and --top-k before any work (usage errors)."""
    from recsys_dr.model.manifest import ManifestError, check_model_name

    try:
        check_model_name(args.model_name)
    except ManifestError as err:
        raise UsageError(f"--model-name: {err}") from None
    if args.version is not None and args.version < 1:
        raise UsageError(f"--version must be a positive integer. Received: {args.version}")
    if args.top_k < 1:
        raise UsageError(f"--top-k must be >= 1. Received: {args.top_k}")


def _write_json(path: Path | None, obj: dict) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------- handlers
MIN_EVALUATION_USERS = 50
"""Fewer held-out users than this: metrics are reported but flagged as unreliable."""


def evaluation_record(split, exclude_seen: bool, trained=None) -> dict:
    """The manifest's ``evaluation`` entry: protocol, example counts, selection, and a warning if any."""
    n = len(split.test)
    record = {
        "protocol": "leave-last-out; validation = second-to-last item (model selection only); "
                    "full-catalog ranking; ties broken at random (expected value)",
        "exclude_seen": exclude_seen,
        "test_users": n,
        "validation_users": len(split.validation) if split.validation is not None else 0,
    }
    if trained is not None:
        record["best_epoch"] = trained.best_epoch
    if n == 0:
        record["warning"] = ("not evaluated: no user has two or more interactions, so nothing is held out; "
                             "the metrics are empty")
    elif n < MIN_EVALUATION_USERS:
        record["warning"] = (f"only {n} held-out user(s) (< {MIN_EVALUATION_USERS}): the metrics are too noisy "
                             "to compare methods")
    return record


def cmd_build(args: argparse.Namespace) -> int:
    import_tensorflow(args.verbose)
    from recsys_dr.model.data import fingerprint
    from recsys_dr.model.evaluate import evaluate_all, format_table
    from recsys_dr.model.export import export_version
    from recsys_dr.model.split import leave_last_out
    from recsys_dr.model.train import save_bundle, train

    _check_out_args(args)
    version = _build_version(args)
    config = _train_config(args)
    runtime = _runtime(args, config)  # before any other TensorFlow op (multi-worker starts its server)
    if _streamed(args):
        data, split, fp, trained = _train_streamed(args, config, runtime)
    else:
        data = _load_data(args)
        split = leave_last_out(data, config.history_length)
        fp = fingerprint(data, history_length=config.history_length)
        log.info("%s: %d interactions, %d items, %d train / %d validation / %d test examples; %s",
                 data.name, len(data.interactions), len(data.catalog), len(split.train), len(split.validation),
                 len(split.test), _report_text(data.report))
        trained = train(split, data.item_ids, config, show_progress=not args.no_progress,
                        exclude_seen=args.exclude_seen, runtime=runtime)
    log.info("trained in %.1f s on %s (kept epoch %d)", trained.train_seconds, trained.device, trained.best_epoch)
    if not runtime.is_chief:  # the chief evaluates, exports and publishes; the other workers write nothing
        print(f"worker {runtime.worker_index} of {runtime.workers}: {runtime.steps} steps, "
              f"{runtime.examples_per_replica} examples per replica; the chief (worker 0) exports")
        _write_json(args.metrics_out, {"training": runtime.record(), "history": trained.history})
        return 0
    evaluation = evaluation_record(split, args.exclude_seen, trained)
    if "warning" in evaluation:
        log.warning("evaluation: %s", evaluation["warning"])
    metrics = evaluate_all(trained.scores, split, data.item_ids, exclude_seen=args.exclude_seen) if len(split.test) else {}
    titles = data.catalog["title"].tolist()
    dataset = {"name": data.name, **data.report.to_dict()}
    fallback_dir, metrics = _export_fallback(args, version, split, data, trained, metrics, fp, titles, dataset)
    if metrics:
        print(format_table(metrics))
    bundle = save_bundle(trained, args.out / BUNDLES / args.model_name,
                         extra={"metrics": metrics, "evaluation": evaluation, "data_fingerprint": fp,
                                "dataset": data.name, "titles": titles})
    version_dir = export_version(
        trained, args.out, model_name=args.model_name, version=version, top_k=args.top_k, metrics=metrics,
        data_fingerprint=fp, titles=titles,
        extra_metadata={"dataset": dataset, "evaluation": evaluation, "train_seconds": round(trained.train_seconds, 2),
                        "training": runtime.record(),
                        "fallback_version": {"model_name": fallback_dir.parent.name, "version": version}},
    )
    _write_json(args.metrics_out, {"metrics": metrics, "evaluation": evaluation, "version_dir": str(version_dir),
                                   "fallback_dir": str(fallback_dir), "data_fingerprint": fp, "training": runtime.record(),
                                   "train_seconds": round(trained.train_seconds, 2), "history": trained.history})
    print(f"exported {version_dir} (training bundle: {bundle})")
    print(f"manifest sha256: {_manifest_sha256(version_dir)}")
    print(f"exported {fallback_dir} (fallback version: counts only, CPU)")
    print(f"manifest sha256: {_manifest_sha256(fallback_dir)}")
    return 0


def _build_version(args: argparse.Namespace) -> int:
    """The version number of both the main and the fallback version: ``--version``, else the next one
    free in both model directories; an existing directory is refused before any training."""
    from recsys_dr.components.settings.fallback import fallback_model_name
    from recsys_dr.model.export import next_version

    dirs = [args.out / args.model_name, args.out / fallback_model_name(args.model_name)]
    version = args.version or max(next_version(d) for d in dirs)
    taken = [str(d / str(version)) for d in dirs if (d / str(version)).exists()]
    if taken:
        raise UsageError(f"{', '.join(taken)} already exist(s); versions are immutable, pick another --version")
    return version


def _export_fallback(args: argparse.Namespace, version: int, split, data, trained, metrics: dict, fp: str,
                     titles: list[str], dataset: dict) -> tuple[Path, dict]:
    """Export the fallback version (evaluated on the same split); return its directory and ``metrics``
    with the fallback's figures added."""
    from recsys_dr.model.fallback import METHOD, FallbackCounts, export_fallback, select_categories

    length = trained.config.history_length
    if args.fallback_categories == "auto":
        selection = select_categories(split, data.catalog, length, exclude_seen=args.exclude_seen)
    else:
        selection = {"categories": args.fallback_categories == "on", "reason": f"--fallback-categories {args.fallback_categories}"}
    figures = selection.get("validation_ndcg@10", {})
    log.info("fallback: category step %s (%s)", "on" if selection["categories"] else "off", selection.get("reason")
             or "validation NDCG@10 " + ", ".join(f"{k} {v:.4f}" for k, v in figures.items()))
    fallback_dir, found = export_fallback(
        FallbackCounts.for_split(split, data.catalog), args.out, model_name=args.model_name, version=version,
        history_length=length, data_fingerprint=fp, top_k=args.top_k, categories=selection["categories"],
        split=split, exclude_seen=args.exclude_seen, metrics=metrics,
        query_vocabulary=trained.preprocessor.query_vocabulary, titles=titles,
        extra_metadata={"dataset": dataset, "evaluation": evaluation_record(split, args.exclude_seen),
                        "fallback_selection": selection, "main": {"model_name": args.model_name, "version": version}},
    )
    return fallback_dir, metrics | ({METHOD: found} if found else {})


def _report_text(report) -> str:
    """A data report as words ("rows read 1,000, duplicates dropped 3"), not a dict repr."""
    return ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in report.to_dict().items())


def _streamed(args: argparse.Namespace) -> bool:
    """--interactions names a directory or an s3:// prefix of Parquet shards (model.stream)."""
    from recsys_dr.model.stream import is_sharded

    return bool(args.interactions) and is_sharded(args.interactions)


def _train_streamed(args: argparse.Namespace, config, runtime):
    """First pass over the shards, then training that streams them: ``(data, split, fingerprint,
    trained)`` where ``data`` holds the catalog and report (no interactions) and ``split`` the
    sampled users' held-out examples."""
    from recsys_dr.model.data import Dataset, resolve_pseudonym_key
    from recsys_dr.model.stream import scan_shards
    from recsys_dr.model.train import train_stream

    if not args.catalog or args.data not in (None, "files"):
        raise UsageError("sharded --interactions needs --catalog (and --data files or no --data)")
    key = resolve_pseudonym_key(_pseudonym_key(args), allow_dev_key=args.allow_dev_key)
    scan = scan_shards(args.interactions, args.catalog, pseudonym_key=key, history_length=config.history_length,
                       query_token_min_users=config.query_token_min_users, sample_users=args.sample_users,
                       strict=args.strict)
    name = args.interactions.rstrip("/").rsplit("/", 1)[-1]
    log.info("%s: %d shards, %d users, %d items, %d training examples, %d sampled users held out; %s", name,
             len(scan.shards), scan.users, len(scan.catalog), sum(scan.train_examples), len(scan.sample.test),
             _report_text(scan.report))
    trained = train_stream(scan, config, pseudonym_key=key, strict=args.strict, show_progress=not args.no_progress,
                           exclude_seen=args.exclude_seen, runtime=runtime)
    return Dataset(name, None, scan.catalog, scan.report), scan.sample, scan.fingerprint, trained


def _manifest_sha256(version_dir: Path) -> str:
    from recsys_dr.model.manifest import MANIFEST_NAME, file_digest

    return file_digest(version_dir / MANIFEST_NAME)[0]


def cmd_export(args: argparse.Namespace) -> int:
    import_tensorflow(args.verbose)
    from recsys_dr.model.export import export_version
    from recsys_dr.model.train import load_bundle

    _check_out_args(args)
    bundle = args.bundle or args.out / BUNDLES / args.model_name
    try:
        trained, extra = load_bundle(bundle)
    except FileNotFoundError as err:
        raise UsageError(f"{err}; run `python -m recsys_dr.model build` first or pass --bundle") from None
    version_dir = export_version(
        trained, args.out, model_name=args.model_name, version=args.version, top_k=args.top_k,
        metrics=extra.get("metrics", {}), data_fingerprint=extra.get("data_fingerprint", "sha256:unknown"),
        titles=extra.get("titles"),
        extra_metadata={"dataset": {"name": extra.get("dataset", "unknown")}, "evaluation": extra.get("evaluation", {})},
    )
    print(f"exported {version_dir}")
    print(f"manifest sha256: {_manifest_sha256(version_dir)}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    tf = import_tensorflow(args.verbose)
    from recsys_dr.model.data import fingerprint
    from recsys_dr.model.evaluate import evaluate_all, format_table
    from recsys_dr.model.export import catalog_scorer
    from recsys_dr.model.manifest import ITEMS_PATH, load_manifest
    from recsys_dr.model.split import leave_last_out

    manifest = load_manifest(args.model_dir / "manifest.json")
    if not (args.model_dir / ITEMS_PATH).is_file():
        raise UsageError(f"{args.model_dir} has no {ITEMS_PATH}: it was exported by recsys-dr < 0.3 "
                         "(ids in assets.extra/); re-export it from its bundle with `python -m recsys_dr.model export`")
    length = int(manifest["serving"]["history_length"])
    data = _load_data(args)
    split = leave_last_out(data, length)
    if fingerprint(data, history_length=length) != manifest.get("data_fingerprint"):
        log.warning("data fingerprint differs from the manifest's: held-out items may have been trained on")
    exported_items = (args.model_dir / ITEMS_PATH).read_text(encoding="utf-8").splitlines()
    loaded = tf.saved_model.load(str(args.model_dir))  # kept: a saved function's variables live on the loaded object
    fn = catalog_scorer(loaded)
    col = {item: i for i, item in enumerate(exported_items)}
    order = np.array([col.get(i, -1) for i in data.item_ids])

    # The version refuses more rows per request than its manifest's cap (model.export.max_batch);
    # this data's batches are sized for its own catalog, which may be smaller. Older versions have none.
    cap = int(manifest["serving"].get("max_batch", 1 << 62))

    def score(batch):
        query, history = batch.query.astype(str), batch.history.astype(str)
        s = np.concatenate([fn(query=tf.constant(query[i:i + cap]), history=tf.constant(history[i:i + cap]))["scores"].numpy()
                            for i in range(0, len(batch), cap)])
        out = np.zeros((len(batch), len(order)), np.float32)  # catalog items the model never saw score 0
        out[:, order >= 0] = s[:, order[order >= 0]]
        return out

    if len(split.test) == 0:
        raise UsageError("no held-out examples: every user has a single interaction")
    results = evaluate_all(score, split, data.item_ids, exclude_seen=args.exclude_seen)
    print(format_table(results))
    _write_json(args.json, {"model_dir": str(args.model_dir), "metrics": results,
                            "evaluation": evaluation_record(split, args.exclude_seen)})
    return 0


def _s3_client(args: argparse.Namespace):
    from recsys_dr.model.verify import make_s3_client

    return make_s3_client(args.region, args.endpoint_url)


def cmd_publish(args: argparse.Namespace) -> int:
    from recsys_dr.model.publish import PublishError, publish

    try:
        result = publish(args.version_dir, args.bucket, s3_client=_s3_client(args), prefix=args.prefix,
                         show_progress=not args.no_progress)
    except PublishError as err:
        print(f"publish failed: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # botocore errors after retries: the version stays incomplete
        print(f"publish failed ({type(err).__name__}): {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(f"published {result.uri}: {len(result.uploaded)} uploaded, {len(result.skipped)} already present")
        # The digest of the manifest now in S3, and the stack file's settings that pin it.
        print(f"manifest sha256: {result.manifest_sha256}")
        section, version = _pin_section(args.version_dir)
        print(f"pin in the stack file: {section}.version: {version}, {section}.manifestSha256: {result.manifest_sha256}")
    return 0


def _pin_section(version_dir: Path) -> tuple[str, int]:
    """``(stack file section, version)`` that pin a version: `fallback` for a fallback version, else `model`."""
    from recsys_dr.model.manifest import FALLBACK_ROLE, MANIFEST_NAME, ROLE_KEY, load_manifest

    manifest = load_manifest(version_dir / MANIFEST_NAME)
    return ("fallback" if manifest.get(ROLE_KEY) == FALLBACK_ROLE else "model"), manifest["version"]


def cmd_verify(args: argparse.Namespace) -> int:
    from recsys_dr.model.verify import verify_local, verify_remote

    if args.bucket:
        if args.version_dir is not None or not args.model_name or args.version is None:
            raise UsageError("remote verify takes --bucket with --model-name and --version (no VERSION_DIR)")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            report = verify_remote(args.bucket, args.model_name, args.version, s3_client=_s3_client(args),
                                   prefix=args.prefix, expected_manifest_sha256=args.manifest_sha256)
        except (BotoCoreError, ClientError) as err:  # no connection / credentials / region, after retries
            print(f"verify failed ({type(err).__name__}): {err}", file=sys.stderr)
            return 1
    elif args.version_dir is not None:
        report = verify_local(args.version_dir, expected_manifest_sha256=args.manifest_sha256)
    else:
        raise UsageError("give a VERSION_DIR, or --bucket with --model-name and --version")
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
    return 0 if report.ok else 1


def cmd_inspect(args: argparse.Namespace) -> int:
    from recsys_dr.model.manifest import ITEMS_PATH, TITLES_PATH, ManifestError, load_manifest

    try:
        m = load_manifest(args.version_dir / "manifest.json")
    except ManifestError as err:
        print(f"inspect failed: {err}", file=sys.stderr)
        return 1
    out: dict = {k: m.get(k) for k in ("model_name", "version", "created_at", "tensorflow_version", "data_fingerprint")}
    out["manifest_sha256"] = _manifest_sha256(args.version_dir)
    out["files"] = len(m["files"])
    out["bytes"] = sum(f["size"] for f in m["files"])
    out["metrics"] = m.get("metrics", {})
    out["evaluation"] = m.get("evaluation", {})
    out["signature"] = m.get("signature", {})
    out["offline_functions"] = m.get("offline_functions", {})
    titles = _titles(args.version_dir, ITEMS_PATH, TITLES_PATH)
    if args.query is not None or args.history is not None:
        tf = import_tensorflow(args.verbose)

        length = int(m["serving"]["history_length"])
        hist = [h for h in (args.history or "").split(",") if h][-length:]
        hist = [""] * (length - len(hist)) + hist
        fn = tf.saved_model.load(str(args.version_dir)).signatures["serving_default"]
        res = fn(query=tf.constant([args.query or ""]), history=tf.constant([hist]))
        out["history"] = [{"item_id": h, "title": titles.get(h, "")} for h in hist if h]
        out["prediction"] = [
            {"item_id": i.decode(), "title": titles.get(i.decode(), ""), "score": round(float(s), 6)}
            for i, s in zip(res["item_ids"].numpy()[0], res["scores"].numpy()[0])
        ]
    if args.json:
        print(json.dumps(out, indent=2, sort_keys=True))
        return 0
    print(f"{out['model_name']} v{out['version']}  created {out['created_at']}  TF {out['tensorflow_version']}")
    print(f"manifest sha256: {out['manifest_sha256']}")
    print(f"data {out['data_fingerprint']}  files {out['files']}  {out['bytes']:,} bytes")
    for kind, specs in (("signature", out["signature"]), ("offline function", out["offline_functions"])):
        for name, sig in specs.items():
            ins = ", ".join(f"{k}: {v['dtype']}{v['shape']}" for k, v in sig["inputs"].items())
            outs = ", ".join(f"{k}: {v['dtype']}{v['shape']}" for k, v in sig["outputs"].items())
            print(f"{kind} {name}: ({ins}) -> ({outs})")
    ev = out["evaluation"]
    if ev:
        print(f"evaluation: {ev.get('test_users', 0)} test users, {ev.get('validation_users', 0)} validation users, "
              f"exclude_seen={ev.get('exclude_seen')}")
        if ev.get("warning"):
            print(f"evaluation warning: {ev['warning']}")
    if out["metrics"]:
        from recsys_dr.model.evaluate import format_table

        print(format_table(out["metrics"]))
    for h in out.get("history", []):
        print(f"  history  {h['item_id']:<20} {h['title']}")
    for p in out.get("prediction", []):
        print(f"  {p['score']:.6f} {p['item_id']:<20} {p['title']}")
    return 0


def _titles(version_dir: Path, items_path: str, titles_path: str) -> dict[str, str]:
    """item id -> catalog title from the artifact (empty when it has no titles file)."""
    items_file, titles_file = version_dir / items_path, version_dir / titles_path
    if not (items_file.is_file() and titles_file.is_file()):
        return {}
    ids = items_file.read_text(encoding="utf-8").splitlines()
    return dict(zip(ids, gzip.decompress(titles_file.read_bytes()).decode("utf-8").splitlines()))


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recsys_dr.model", description="Build, evaluate, export, publish, verify and inspect the recommender artifact.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    # No abbreviated options: `--pseudonym-key <key>` must not pass for `--pseudonym-key-file`.
    p = sub.add_parser("build", allow_abbrev=False, help="train, evaluate against baselines and export a new version",
                       description="Load data, split leave-last-out (validation = second-to-last item), train with "
                                   "early stopping, evaluate (model, most-popular, personal-frequency, item-kNN), "
                                   "save the training bundle and export <out>/<model-name>/<version>/ with manifest.json, "
                                   "and the counts-only fallback version <out>/<model-name>-fallback/<version>/ (same "
                                   "signature, evaluated on the same split) with its own manifest.json.")
    _add_data_args(p)
    _add_train_args(p)
    _add_out_args(p)
    p.add_argument("--metrics-out", type=Path, help="also write the metrics as JSON here")
    p.add_argument("--fallback-categories", choices=("auto", "on", "off"), default="auto",
                   help="the fallback version's category step: auto = on if it ranks the validation items better "
                        "(default: auto)")
    p.add_argument("--no-progress", action="store_true", help="no per-epoch progress bar")
    _add_strategy_args(p)
    p.set_defaults(handler=cmd_build)

    p = sub.add_parser("evaluate", allow_abbrev=False, help="rank the held-out items with an exported version and the baselines")
    p.add_argument("--model-dir", type=Path, required=True, help="exported version directory")
    _add_data_args(p)
    p.add_argument("--json", type=Path, help="also write the metrics as JSON here")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("export", help="export a new version from the training bundle saved by build")
    _add_out_args(p)
    p.add_argument("--bundle", type=Path, help="training bundle dir (default: <out>/.bundles/<model-name>)")
    p.set_defaults(handler=cmd_export)

    for name, help_ in (("publish", "upload a version to S3 (manifest.json last)"),
                        ("verify", "check a local or S3 version against its manifest")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("version_dir", type=Path, nargs="?" if name == "verify" else None, help="version directory")
        p.add_argument("--bucket", required=name == "publish", help="S3 bucket")
        p.add_argument("--region", default=os.environ.get("AWS_REGION"), help="AWS region (default: $AWS_REGION)")
        p.add_argument("--endpoint-url", default=None, help="S3 endpoint, e.g. a moto server")
        p.add_argument("--prefix", default="models", help="key prefix (default: models)")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        if name == "verify":
            p.add_argument("--model-name", default=None, help="remote: model name")
            p.add_argument("--version", type=int, default=None, help="remote: version number")
            p.add_argument("--manifest-sha256", default=None,
                           help="fail unless manifest.json has this sha256 (the stack's model.manifestSha256)")
            p.set_defaults(handler=cmd_verify)
        else:
            p.add_argument("--no-progress", action="store_true", help="no upload progress bar")
            p.set_defaults(handler=cmd_publish)

    p = sub.add_parser("inspect", help="show a version's manifest, signature and metrics; optionally run a query")
    p.add_argument("version_dir", type=Path)
    p.add_argument("--query", default=None, help="run serving_default with this query")
    p.add_argument("--history", default=None, help="comma-separated item ids, most recent last")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_inspect)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="model: %(message)s")
    # botocore logs "Found credentials in environment variables." at INFO on every publish/verify:
    # library noise, not a result (kept with -v).
    logging.getLogger("botocore").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    from recsys_dr.model.data import DataError

    try:
        return args.handler(args)
    except (UsageError, DataError, FileExistsError) as err:  # input / usage problems only
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # the command ran and failed (invalid manifest, TF error, ...)
        log.debug("traceback", exc_info=True)
        print(f"error ({type(err).__name__}): {err}" + ("" if args.verbose else " (-v for the traceback)"),
              file=sys.stderr)
        return 1
