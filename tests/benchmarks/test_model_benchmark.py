"""The serving benchmark's clients time the exported signature itself, and its figures add up."""

from __future__ import annotations

import json

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
