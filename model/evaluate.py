"""Full-catalog ranking metrics for the model and the baselines on one split.

For each held-out example, every catalog item is scored (no sampled negatives) and the
target's rank is ``1 + #items scoring higher + #other items scoring equal`` (ties are
counted against the target, so a baseline that cannot tell items apart gets no credit).

* ``hit_rate@k`` - share of examples with rank <= k;
* ``ndcg@k`` - mean of ``1 / log2(rank + 1)`` for rank <= k, else 0 (one relevant item);
* ``mrr`` - mean of ``1 / rank`` over the full ranking (not truncated).

By default nothing is filtered: the served model does not filter either, and repeat
purchases are legitimate in a shop. ``exclude_seen=True`` gives the common academic
protocol instead: items of the user's training sequence (other than the target itself)
are removed from the ranking, for the model and the baselines alike.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from recsys_dr.model.baselines import ItemKNN, MostPopular
from recsys_dr.model.split import Split

METRIC_NAMES = ("hit_rate@10", "ndcg@10", "mrr")


def ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Pessimistic 1-based rank of ``targets[i]`` (a column index) within ``scores[i]``.

    >>> ranks(np.array([[0.1, 0.5, 0.5]]), np.array([1])).tolist()
    [2]
    """
    t = scores[np.arange(len(targets)), targets][:, None]
    return 1 + (scores > t).sum(axis=1) + (scores == t).sum(axis=1) - 1


def metrics_from_ranks(r: np.ndarray, k: int = 10) -> dict[str, float]:
    """HitRate@k, NDCG@k and MRR from 1-based ranks."""
    r = np.asarray(r, dtype=np.float64)
    if r.size == 0:
        raise ValueError("no examples to evaluate")
    hit = r <= k
    return {
        f"hit_rate@{k}": float(hit.mean()),
        f"ndcg@{k}": float(np.where(hit, 1.0 / np.log2(r + 1.0), 0.0).mean()),
        "mrr": float((1.0 / r).mean()),
    }


def target_columns(items: list[str], targets: np.ndarray) -> np.ndarray:
    index = {item: i for i, item in enumerate(items)}
    return np.fromiter((index[t] for t in targets), dtype=np.int64, count=len(targets))


def evaluate_scorer(score_fn: Callable[[np.ndarray, np.ndarray], np.ndarray], split: Split, items: list[str],
                    k: int = 10, batch_size: int = 1024, exclude_seen: bool = False) -> dict[str, float]:
    """Metrics of ``score_fn(query[n], history[n, L]) -> float[n, num_items]`` on ``split.test``.

    Args:
        score_fn: scores in catalog order for a batch of raw inputs.
        split: the split whose ``test`` examples are ranked.
        items: catalog item ids in output order.
        k: cut-off for HitRate and NDCG; default 10.
        batch_size: examples scored at once; default 1024.
        exclude_seen: drop the user's training items (except the target) from the ranking; default False.
    """
    test = split.test
    cols = target_columns(items, test.target)
    index = {item: i for i, item in enumerate(items)}
    r = []
    for start in range(0, len(test), batch_size):
        sl = slice(start, start + batch_size)
        raw = np.array(score_fn(test.query[sl], test.history[sl]), dtype=np.float64)
        scores, tgt = raw, cols[sl]
        if exclude_seen:
            scores = raw.copy()
            for row, user in enumerate(test.user[sl]):
                scores[row, [index[i] for i in split.train_sequences.get(user, ())]] = -np.inf
            scores[np.arange(len(tgt)), tgt] = raw[np.arange(len(tgt)), tgt]  # the target stays rankable
        r.append(ranks(scores, tgt))
    return metrics_from_ranks(np.concatenate(r) if r else np.array([]), k) | {"examples": len(test)}


def evaluate_all(model_score_fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None, split: Split,
                 items: list[str], k: int = 10, exclude_seen: bool = False) -> dict[str, dict[str, float]]:
    """Metrics for the model (if given) and both baselines on the same split.

    Args:
        model_score_fn: see :func:`evaluate_scorer`; None evaluates the baselines only.
        split: the split to rank.
        items: catalog item ids in output order.
        k: cut-off; default 10.
        exclude_seen: see :func:`evaluate_scorer`; default False.
    """
    results: dict[str, dict[str, float]] = {}
    if model_score_fn is not None:
        results["model"] = evaluate_scorer(model_score_fn, split, items, k, exclude_seen=exclude_seen)
    for baseline in (MostPopular(items), ItemKNN(items)):
        baseline.fit(split.train_sequences)
        results[baseline.name] = evaluate_scorer(lambda q, h, b=baseline: b.scores(h), split, items, k,
                                                  exclude_seen=exclude_seen)
    return results


def format_table(results: dict[str, dict[str, float]], k: int = 10) -> str:
    """Render ``{method: metrics}`` as a fixed-width text table."""
    names = (f"hit_rate@{k}", f"ndcg@{k}", "mrr")
    head = f"{'method':<14}" + "".join(f"{n:>13}" for n in names)
    lines = [head, "-" * len(head)]
    for method, m in results.items():
        lines.append(f"{method:<14}" + "".join(f"{m[n]:>13.4f}" for n in names))
    return "\n".join(lines)
