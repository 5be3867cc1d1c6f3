"""Seeded synthetic e-commerce data: categories, titles, shoppers, queries.

The generator plants structure that a query+history model can learn and a popularity
baseline cannot:

* each shopper prefers one or two categories (Dirichlet weights);
* consecutive interactions usually stay in the current category (``stickiness``) and
  often move to the item's fixed "companion" (bought-together) item;
* the query of an interaction names the target's category and, half of the time, the
  target's colour word (e.g. ``"red shoes"``); ``query_rate`` of interactions have one.

Example:
    >>> ds = generate(SyntheticConfig(num_users=50, seed=1))
    >>> sorted(ds.interactions.columns)
    ['event_type', 'item_id', 'query', 'timestamp', 'user_id']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys_dr.model.data import DataReport, Dataset, pseudonymise, resolve_pseudonym_key

CATEGORIES = (
    "shoes", "laptops", "jackets", "headphones", "backpacks", "watches", "lamps", "mugs",
    "cameras", "blankets", "bikes", "kettles",
)
COLOURS = ("red", "blue", "black", "white", "green", "grey", "yellow", "pink")
NOUNS = ("classic", "pro", "lite", "max", "mini", "eco", "sport", "studio", "urban", "trail")


@dataclass(frozen=True, kw_only=True)
class SyntheticConfig:
    """Size and behaviour of the generated data.

    Args:
        num_users: shoppers; default 400.
        num_categories: categories used (<= 12); default 8.
        items_per_category: catalog items per category; default 25.
        min_events: fewest interactions per shopper; default 8.
        max_events: most interactions per shopper; default 20.
        stickiness: probability the next event stays in the current category; default 0.7.
        companion_rate: probability the next event is the previous item's companion; default 0.4.
        query_rate: fraction of interactions with a query; default 0.8.
        seed: RNG seed; the same seed gives identical data; default 0.
    """

    num_users: int = 400
    num_categories: int = 8
    items_per_category: int = 25
    min_events: int = 8
    max_events: int = 20
    stickiness: float = 0.7
    companion_rate: float = 0.4
    query_rate: float = 0.8
    seed: int = 0


def generate(config: SyntheticConfig = SyntheticConfig(), *, pseudonym_key: str | None = None) -> Dataset:
    """Generate a catalog and an interaction log (user ids pseudonymised like real data).

    Args:
        config: see :class:`SyntheticConfig`; default ``SyntheticConfig()``.
        pseudonym_key: HMAC key; default None -> :func:`model.data.resolve_pseudonym_key`.
    """
    if not 1 <= config.num_categories <= len(CATEGORIES):
        raise ValueError(f"`num_categories` must be in 1..{len(CATEGORIES)}. Received: {config.num_categories}")
    if not 1 <= config.min_events <= config.max_events:
        raise ValueError(
            f"`min_events` must be >= 1 and <= `max_events`. Received: {config.min_events}, {config.max_events}"
        )
    rng = np.random.default_rng(config.seed)
    cats = CATEGORIES[: config.num_categories]
    rows = []
    for c, cat in enumerate(cats):
        for j in range(config.items_per_category):
            colour = COLOURS[rng.integers(len(COLOURS))]
            noun = NOUNS[rng.integers(len(NOUNS))]
            rows.append((f"sku-{c:02d}{j:03d}", f"{colour.title()} {noun.title()} {cat[:-1].title()}", cat, colour))
    catalog = pd.DataFrame(rows, columns=["item_id", "title", "category", "colour"])
    n_items = len(catalog)
    by_cat = [np.flatnonzero(catalog["category"].to_numpy() == cat) for cat in cats]
    # Zipf-like popularity inside each category, and a fixed companion item per item.
    pop = 1.0 / np.arange(1, config.items_per_category + 1) ** 0.8
    pop = pop / pop.sum()
    companion = rng.permutation(n_items)

    inter = []
    t0 = 1_700_000_000
    for u in range(config.num_users):
        prefs = rng.dirichlet(np.full(config.num_categories, 0.3))
        n = int(rng.integers(config.min_events, config.max_events + 1))
        t = t0 + int(rng.integers(0, 86_400 * 30))
        cat = int(rng.choice(config.num_categories, p=prefs))
        prev = -1
        for _ in range(n):
            if prev >= 0 and rng.random() < config.companion_rate:
                item = int(companion[prev])
            else:
                if rng.random() > config.stickiness:
                    cat = int(rng.choice(config.num_categories, p=prefs))
                item = int(by_cat[cat][rng.choice(config.items_per_category, p=pop)])
            cat = int(np.searchsorted([b[0] for b in by_cat], item, side="right") - 1)
            row = catalog.iloc[item]
            query = ""
            if rng.random() < config.query_rate:
                query = f"{row.colour} {row.category}" if rng.random() < 0.5 else str(row.category)
            event = "purchase" if rng.random() < 0.15 else "view"
            t += int(rng.integers(60, 3_600))
            inter.append((f"shopper-{u:05d}", row.item_id, t, query, event))
            prev = item
    df = pd.DataFrame(inter, columns=["user_id", "item_id", "timestamp", "query", "event_type"])
    df["user_id"] = pseudonymise(df["user_id"], resolve_pseudonym_key(pseudonym_key))
    report = DataReport(rows_read=len(df))
    return Dataset("synthetic", df, catalog[["item_id", "title", "category"]], report)
