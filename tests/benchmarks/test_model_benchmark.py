"""The serving benchmark's clients time the exported signature itself, and its figures add up."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tests.model import model_fixtures as fx

pytestmark = pytest.mark.slow


def test_the_session_client_serves_what_the_python_signature_serves():
    """The Session client feeds and fetches the SignatureDef's tensors by name, as TF Serving's
    RunPredict does (tensorflow_serving/servables/tensorflow/predict_util.cc): on every warmup
    request it must give the Python signature's answers, or it would be timing something else."""
    import tensorflow as tf

    from benchmarks.model_benchmark import _python_client, _session_client
    from recsys_dr.model.export import WARMUP_PATH, read_warmup

    version_dir = fx.exported()
    session, python = _session_client(tf, version_dir, 1, 2), _python_client(tf, version_dir, 0, 0)
    requests = read_warmup(version_dir / WARMUP_PATH)
    assert {len(r["query"]) for r in requests} == {1, 8, 64}
    for request in requests:
        ids, scores = session(request)  # outputs in sorted-name order: item_ids, scores
        expected = python({k: tf.constant(v) for k, v in request.items()})
        assert ids.tolist() == expected["item_ids"].numpy().tolist()
        np.testing.assert_allclose(scores, expected["scores"].numpy(), rtol=1e-6)


def test_timings_pool_the_rounds_and_keep_each_rounds_p99(monkeypatch):
    """A fake clock: every call in round r takes r + 1 ms (the 2 warmup calls are not timed)."""
    import benchmarks.model_benchmark as bench

    clock = {"now": 0.0, "calls": 0}

    def call():
        clock["calls"] += 1
        timed = clock["calls"] - 2
        clock["now"] += 0.0 if timed < 1 else (1 + (timed - 1) // 50) / 1e3

    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock["now"])
    figures = bench._timings(call, iterations=50, batch=4, rounds=3, warmup=2)
    assert clock["calls"] == 2 + 150 and figures["calls"] == 150
    assert figures["round_p99_ms"] == pytest.approx([1.0, 2.0, 3.0])
    assert figures["p50_ms"] == pytest.approx(2.0) and figures["p99_ms"] == pytest.approx(3.0)
    assert figures["examples_per_s"] == pytest.approx(4 * 150 / 0.3)  # 50 calls each of 1, 2 and 3 ms


def test_the_latency_command_writes_what_it_prints(tmp_path, capsys):
    from benchmarks.model_benchmark import main

    out = tmp_path / "latency.json"
    assert main(["latency", str(fx.exported()), "--iterations", "3", "--rounds", "2", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["client"] == "session"
    b1 = figures["latency"]["serving_default_b1"]
    assert b1["calls"] == 6 and len(b1["round_p99_ms"]) == 2
    assert figures["latency"]["serving_default_b64"]["calls"] == 3
    assert f"{b1['p99_ms']:.2f}" in capsys.readouterr().out


def test_the_batch_scheduler_merges_concurrent_tasks_and_hands_each_its_own_rows():
    """BasicBatchScheduler's contract: concurrent tasks share one call of at most max_batch_size rows,
    and every task gets back the rows it sent."""
    import threading

    from benchmarks.model_benchmark import BatchScheduler

    calls = []

    def run_batch(payloads):
        calls.append(len(payloads))
        return [p * 10 for p in payloads]

    scheduler = BatchScheduler(run_batch, max_batch_size=4, batch_timeout_micros=200_000, num_batch_threads=1,
                               max_enqueued_batches=10)
    results = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, scheduler.schedule(1, i).result())) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    scheduler.stop()
    assert results == {i: i * 10 for i in range(8)}
    assert max(calls) <= 4 and sum(calls) == 8 and len(calls) < 8  # merged, never above the limit


def test_a_lone_task_waits_for_the_timeout_then_runs_alone():
    from benchmarks.model_benchmark import BatchScheduler

    scheduler = BatchScheduler(lambda payloads: payloads, max_batch_size=8, batch_timeout_micros=50_000, num_batch_threads=1,
                               max_enqueued_batches=10)
    started = time.perf_counter()
    assert scheduler.schedule(1, "x").result() == "x"
    waited = time.perf_counter() - started
    scheduler.stop()
    assert 0.05 <= waited < 1.0 and scheduler.batch_sizes == [1]


def test_the_scheduler_refuses_what_tf_serving_refuses():
    from benchmarks.model_benchmark import BatchScheduler

    scheduler = BatchScheduler(lambda payloads: payloads, max_batch_size=2, batch_timeout_micros=10_000_000, num_batch_threads=1,
                               max_enqueued_batches=1)
    with pytest.raises(ValueError, match="Task size 3 is larger than maximum input batch size 2"):
        scheduler.schedule(3, "big")
    scheduler.schedule(2, "fills the only batch")
    with pytest.raises(RuntimeError, match="queue .* is full"):
        scheduler.schedule(1, "no room")
    scheduler.stop()


def test_merged_session_calls_split_outputs_back_per_request():
    from benchmarks.model_benchmark import _merged_session_call

    def call(inputs):  # outputs in sorted-name order, one row per input row
        return [inputs["query"] + "!", inputs["history"][:, 0]]

    run = _merged_session_call(call)
    requests = [{"query": np.array(["a"]), "history": np.array([["h1", "h2"]])},
                {"query": np.array(["b", "c"]), "history": np.array([["h3", "h4"], ["h5", "h6"]])}]
    first, second = run(requests)
    assert first[0].tolist() == ["a!"] and second[0].tolist() == ["b!", "c!"] and second[1].tolist() == ["h3", "h5"]


def test_the_batching_command_writes_what_it_prints(tmp_path, capsys):
    from benchmarks.model_benchmark import main

    out = tmp_path / "batching.json"
    assert main(["batching", str(fx.exported()), "--clients", "1,4", "--seconds", "0.5", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert set(figures["runs"]["batched"]) == {"1", "4"} == set(figures["throughput_ratio"])
    assert figures["runs"]["batched"]["4"]["requests"] > 0 and figures["runs"]["unbatched"]["4"]["requests"] > 0
    printed = capsys.readouterr().out
    assert f"{figures['throughput_ratio']['4']:.2f}" in printed
def test_the_steps_command_times_each_history_length(tmp_path, capsys):
    from benchmarks.model_benchmark import main

    out = tmp_path / "steps.json"
    assert main(["steps", "--history-lengths", "4,16", "--items", "300", "--batch-size", "8", "--iterations", "2",
                 "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert set(figures["ms_per_step"]) == {"4", "16"} and all(v > 0 for v in figures["ms_per_step"].values())
    assert "history   16" in capsys.readouterr().out


def test_quality_refuses_an_unknown_dataset():
    from benchmarks.model_benchmark import main

    with pytest.raises(SystemExit, match=r"--datasets: unknown \['bogus'\]; one of: movielens, shop, completejourney"):
        main(["quality", "--datasets", "shop,bogus", "--json", "/dev/null"])
