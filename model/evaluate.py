"""Full-catalog ranking metrics for the model and the baselines on one held-out part.

Every catalog item is scored for each held-out example (no sampled negatives).

**Ties** are broken uniformly at random, in expectation: if ``g`` items score higher than
the target and ``e`` items (the target included) score the same, the target is equally
likely to sit at any rank ``g+1 .. g+e``, and each metric is its exact mean over those
ranks. The same rule applies to every method, so a baseline whose scores are mostly tied
(item-kNN on sparse data, most-popular) is neither punished (ties counted against the
target) nor flattered (ties counted for it).

* ``hit_rate@k`` - share of examples with rank <= k;
* ``ndcg@k`` - mean of ``1 / log2(rank + 1)`` for rank <= k, else 0 (one relevant item);
* ``mrr`` - mean of ``1 / rank`` over the full ranking (not truncated).

Figures are given for all examples and split by **held-out type**: ``repeat`` (the target
is in the user's past: a re-buy) and ``new`` (it is not).

By default nothing is filtered: the served model does not filter, and re-buys are
legitimate in a shop. ``exclude_seen=True`` is the common academic protocol: items of the
user's past other than the target are removed from every method's ranking.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from recsys_dr.model.baselines import ItemKNN, MostPopular, PersonalFrequency
from recsys_dr.model.split import Examples, Split, sequences_before

GROUPS = ("all", "repeat", "new")
SCORE_BUDGET = 1 << 24  # scores held at once (64 MiB of float32) whatever the catalog size

ScoreFn = Callable[[Examples], np.ndarray]


def tie_counts(scores: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(greater, equal)`` per row: items scoring above the target, and equal to it (incl. itself).

    >>> [a.tolist() for a in tie_counts(np.array([[0.1, 0.5, 0.5]]), np.array([1]))]
    [[0], [2]]
    """
    t = scores[np.arange(len(targets)), targets][:, None]
    if np.isnan(t).any():
        raise ValueError("a target scored NaN")
    return (scores > t).sum(axis=1), (scores == t).sum(axis=1)


def metrics_from_ties(greater: np.ndarray, equal: np.ndarray, k: int = 10, num_items: int | None = None) -> dict[str, float]:
    """Expected HitRate@k, NDCG@k and MRR with the target uniformly placed among its ties.

    Args:
        greater: items scored above the target, per example.
        equal: items scored equal to the target, the target included (>= 1), per example.
        k: cut-off; default 10.
        num_items: catalog size (bounds the rank); default ``max(greater + equal)``.

    >>> metrics_from_ties(np.array([0]), np.array([2]), k=1)["hit_rate@1"]
    0.5
    """
    g = np.asarray(greater, dtype=np.int64)
    e = np.asarray(equal, dtype=np.int64)
    if g.size == 0:
        raise ValueError("no examples to evaluate")
    if (e < 1).any():
        raise ValueError("`equal` counts the target itself, so it must be >= 1")
    n = int(num_items or (g + e).max())
    pos = np.arange(1, n + 1, dtype=np.float64)
    dcg = np.r_[0.0, np.cumsum(np.where(pos <= k, 1.0 / np.log2(pos + 1.0), 0.0))]
    harmonic = np.r_[0.0, np.cumsum(1.0 / pos)]
    last = g + e
    return {
        f"hit_rate@{k}": float(((np.minimum(last, k) - np.minimum(g, k)) / e).mean()),
        f"ndcg@{k}": float(((dcg[last] - dcg[g]) / e).mean()),
        "mrr": float(((harmonic[last] - harmonic[g]) / e).mean()),
    }


def target_columns(items: list[str], targets: np.ndarray) -> np.ndarray:
    index = {item: i for i, item in enumerate(items)}
    return np.fromiter((index[t] for t in targets), dtype=np.int64, count=len(targets))


def evaluate_scorer(score_fn: ScoreFn, examples: Examples, items: list[str], *, k: int = 10,
                    exclude_seen: bool = False, by_type: bool = True) -> dict[str, dict[str, float]]:
    """Metrics of ``score_fn(batch) -> float[len(batch), num_items]`` on held-out ``examples``.

    Args:
        score_fn: scores in catalog order for a batch of examples (model or baseline).
        examples: held-out examples with ``past`` (``split.test`` or ``split.validation``).
        items: catalog item ids in output order.
        k: cut-off for HitRate and NDCG; default 10.
        exclude_seen: drop the user's past items (except the target) from the ranking; default False.
        by_type: also report the ``repeat`` and ``new`` groups; default True.

    Returns:
        ``{"all": {...}, "repeat": {...}, "new": {...}}``, each with the metrics and ``examples``.
    """
    cols = target_columns(items, examples.target)
    index = {item: i for i, item in enumerate(items)}
    batch = max(1, min(1024, SCORE_BUDGET // max(len(items), 1)))
    greater, equal = [], []
    for start in range(0, len(examples), batch):
        rows = np.arange(start, min(start + batch, len(examples)))
        part = examples.subset(rows)
        scores = np.array(score_fn(part), dtype=np.float32)
        tgt = cols[rows]
        if exclude_seen:
            keep = scores[np.arange(len(tgt)), tgt].copy()
            for r, seq in enumerate(part.past):
                scores[r, [index[i] for i in seq if i in index]] = -np.inf
            scores[np.arange(len(tgt)), tgt] = keep  # the target stays rankable
        g, e = tie_counts(scores, tgt)
        greater.append(g)
        equal.append(e)
    g = np.concatenate(greater) if greater else np.zeros(0, np.int64)
    e = np.concatenate(equal) if equal else np.zeros(0, np.int64)
    masks = {"all": np.ones(len(g), bool)}
    if by_type:
        rep = examples.is_repeat()
        masks |= {"repeat": rep, "new": ~rep}
    out = {}
    for group, m in masks.items():
        out[group] = (metrics_from_ties(g[m], e[m], k, len(items)) if m.any() else {}) | {"examples": int(m.sum())}
    return out


def fitted_baselines(split: Split, items: list[str], part: str = "test") -> list:
    """Most-popular, personal-frequency and item-kNN (scored from the last 20 items, its default)
    fitted on every interaction before the ``part`` items (for the test: training + validation,
    like the refitted model)."""
    seqs = sequences_before(split, part)
    return [b.fit(seqs) for b in (MostPopular(items), PersonalFrequency(items), ItemKNN(items))]


def evaluate_all(model_score_fn: ScoreFn | None, split: Split, items: list[str], *, k: int = 10,
                 exclude_seen: bool = False, part: str = "test",
                 baselines: list | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """Metrics for the model (if given) and every baseline on one held-out part.

    Args:
        model_score_fn: see :func:`evaluate_scorer`; None evaluates the baselines only.
        split: the split to rank.
        items: catalog item ids in output order.
        k: cut-off; default 10.
        exclude_seen: see :func:`evaluate_scorer`; default False.
        part: ``"test"`` or ``"validation"``; default "test".
        baselines: already fitted baselines; default None -> :func:`fitted_baselines`.
    """
    examples = split.test if part == "test" else split.validation
    if examples is None or len(examples) == 0:
        raise ValueError(f"no {part} examples to evaluate")
    results = {}
    if model_score_fn is not None:
        results["model"] = evaluate_scorer(model_score_fn, examples, items, k=k, exclude_seen=exclude_seen)
    for b in baselines if baselines is not None else fitted_baselines(split, items, part):
        results[b.name] = evaluate_scorer(lambda ex, b=b: b.scores(ex.past), examples, items, k=k,
                                          exclude_seen=exclude_seen)
    return results


def format_table(results: dict[str, dict[str, dict[str, float]]], k: int | None = None) -> str:
    """Render ``{method: {group: metrics}}`` as a text table whose columns line up (under 80 columns).

    ``k`` defaults to the cut-off the metrics were computed at (their ``hit_rate@k`` key).
    """
    first = next(iter(results.values()), {})
    if k is None:
        names = [n for n in first.get("all", {}) if n.startswith("hit_rate@")]
        k = int(names[0].split("@", 1)[1]) if names else 10
    heads = [("all", f"hit_rate@{k}"), ("all", f"ndcg@{k}"), ("all", "mrr"), ("repeat", f"ndcg@{k}"), ("new", f"ndcg@{k}")]
    counts = ", ".join(f"{g} {first.get(g, {}).get('examples', 0)}" for g in GROUPS)
    labels = [n if g == "all" else f"{g} {n}" for g, n in heads]
    width = max([len("method"), *(len(m) for m in results)])
    head = f"{'method':<{width}}" + "".join(f"  {label:>{max(len(label), 6)}}" for label in labels)
    lines = [f"examples: {counts}; ties broken at random (expected value)", head, "-" * len(head)]
    for method, m in results.items():
        cells = [m.get(g, {}).get(n) for g, n in heads]
        lines.append(f"{method:<{width}}" + "".join(
            f"  {'-' if v is None else f'{v:.4f}':>{max(len(label), 6)}}" for v, label in zip(cells, labels)))
    return "\n".join(lines)
