"""Seeded synthetic e-commerce data: categories, titles, shoppers, queries, staples.

The generator plants structure that a query+history model can learn and a popularity
baseline cannot:

* each shopper prefers one or two categories (Dirichlet weights);
* consecutive interactions usually stay in the current category (``stickiness``) and
  often move to the item's fixed "companion" (bought-together) item;
* **staples on a cycle**: each shopper has ``staples`` items (from their preferred
  categories) they re-buy every ``cycle_min..cycle_max`` events (a per-staple period);
  when a staple is due (that many events since its last purchase) it is bought with
  probability ``staple_rate`` - the most overdue first. That makes re-buys a large share of
  the held-out items, as in grocery data, and rewards knowing *when* an item is due, not
  only that it was bought before;
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
        staples: re-bought items per shopper (0 = no re-buy dynamics); default 2.
        cycle_min: shortest re-buy period, in events; default 3.
        cycle_max: longest re-buy period, in events; default 6.
        staple_rate: probability a due staple is bought at the next event; default 0.8.
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
    staples: int = 2
    cycle_min: int = 3
    cycle_max: int = 6
    staple_rate: float = 0.8
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.num_categories <= len(CATEGORIES):
            raise ValueError(f"`num_categories` must be in 1..{len(CATEGORIES)}. Received: {self.num_categories}")
        if not 1 <= self.min_events <= self.max_events:
            raise ValueError(
                f"`min_events` must be >= 1 and <= `max_events`. Received: {self.min_events}, {self.max_events}")
        if not 1 <= self.cycle_min <= self.cycle_max:
            raise ValueError(
                f"`cycle_min` must be >= 1 and <= `cycle_max`. Received: {self.cycle_min}, {self.cycle_max}")
        if not 0 <= self.staples <= self.items_per_category:
            raise ValueError(f"`staples` must be in 0..items_per_category. Received: {self.staples}")


def generate(config: SyntheticConfig = SyntheticConfig(), *, pseudonym_key: str | None = None) -> Dataset:
    """Generate a catalog and an interaction log (user ids pseudonymised like real data).

    Args:
        config: see :class:`SyntheticConfig`; default ``SyntheticConfig()``.
        pseudonym_key: HMAC key; default None -> :func:`model.data.resolve_pseudonym_key`.
    """
    rng = np.random.default_rng(config.seed)
    cats = CATEGORIES[: config.num_categories]
    per = config.items_per_category
    width = max(3, len(str(per - 1)))
    n_items = len(cats) * per
    colour = rng.integers(len(COLOURS), size=n_items)
    noun = rng.integers(len(NOUNS), size=n_items)
    item_cat = np.repeat(np.arange(len(cats)), per)
    item_ids = np.array([f"sku-{c:02d}{j:0{width}d}" for c in range(len(cats)) for j in range(per)], dtype=object)
    titles = [f"{COLOURS[colour[i]].title()} {NOUNS[noun[i]].title()} {cats[item_cat[i]][:-1].title()}"
              for i in range(n_items)]
    catalog = pd.DataFrame({"item_id": item_ids, "title": titles, "category": [cats[c] for c in item_cat]})
    # Zipf-like popularity inside each category, and a fixed companion item per item.
    cum_pop = np.cumsum(1.0 / np.arange(1, per + 1) ** 0.8)
    cum_pop /= cum_pop[-1]
    companion = rng.permutation(n_items)
    queries_colour = [f"{COLOURS[colour[i]]} {cats[item_cat[i]]}" for i in range(n_items)]

    rows_u, rows_i, rows_t, rows_q, rows_e = [], [], [], [], []
    t0 = 1_700_000_000
    for u in range(config.num_users):
        prefs = rng.dirichlet(np.full(config.num_categories, 0.3))
        cum_prefs = np.cumsum(prefs)
        n = int(rng.integers(config.min_events, config.max_events + 1))
        t = t0 + int(rng.integers(0, 86_400 * 30))
        cat = min(int(np.searchsorted(cum_prefs, rng.random())), len(cats) - 1)
        staples = []
        for _ in range(config.staples):
            c = min(int(np.searchsorted(cum_prefs, rng.random())), len(cats) - 1)
            staples.append(c * per + int(rng.integers(per)))
        period = rng.integers(config.cycle_min, config.cycle_max + 1, size=len(staples))
        last = -rng.integers(0, config.cycle_max + 1, size=len(staples))  # staggered first purchases
        prev = -1
        for step in range(n):
            overdue = step - last - period
            due = np.flatnonzero(overdue >= 0)
            if len(due) and rng.random() < config.staple_rate:
                k = int(due[np.argmax(overdue[due])])
                item = staples[k]
            elif prev >= 0 and rng.random() < config.companion_rate:
                item = int(companion[prev])
            else:
                if rng.random() > config.stickiness:
                    cat = min(int(np.searchsorted(cum_prefs, rng.random())), len(cats) - 1)
                item = cat * per + min(int(np.searchsorted(cum_pop, rng.random())), per - 1)
            for k, s in enumerate(staples):
                if s == item:
                    last[k] = step
            cat = int(item_cat[item])
            query = ""
            if rng.random() < config.query_rate:
                query = queries_colour[item] if rng.random() < 0.5 else cats[cat]
            t += int(rng.integers(60, 3_600))
            rows_u.append(u)
            rows_i.append(item)
            rows_t.append(t)
            rows_q.append(query)
            rows_e.append("purchase" if rng.random() < 0.15 else "view")
            prev = item
    users = np.array([f"shopper-{u:05d}" for u in range(config.num_users)], dtype=object)
    df = pd.DataFrame({"user_id": users[np.array(rows_u, dtype=np.int64)], "item_id": item_ids[np.array(rows_i, dtype=np.int64)],
                       "timestamp": np.array(rows_t, dtype=np.int64), "query": rows_q, "event_type": rows_e})
    df["user_id"] = pseudonymise(df["user_id"], resolve_pseudonym_key(pseudonym_key))
    return Dataset("synthetic", df, catalog, DataReport(rows_read=len(df)))
