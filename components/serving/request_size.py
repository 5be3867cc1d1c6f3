"""How large a prediction request is, and the body limit the front door enforces (plain functions).

A Predict request to TF Serving's REST API is JSON, in the row format (`{"instances": [...]}`) or
the columnar one (`{"inputs": {...}}`) (TF Serving REST API docs, "Request format"). Its size
follows from the model's request shape: rows x (query + history of `history_length` item ids).
The web ACL in front of the balancer refuses larger bodies, but AWS WAF inspects at most the
first 8 KB of a body for an Application Load Balancer, a fixed limit (AWS WAF Developer Guide,
"Oversize web request components": "For Application Load Balancer ... 8 KB (8,192 bytes)").
So the limit is the size of the largest request the model accepts, capped at 8 KB; a model
whose one-row request does not fit cannot be served through the front door at all.
"""

from __future__ import annotations

import json

# AWS WAF's body inspection limit for an ALB (fixed; CloudFront, API Gateway and others differ).
WAF_ALB_BODY_LIMIT = 8192
SIGNATURE_NAME = "serving_default"


def request_body_bytes(*, rows: int, history_length: int, item_id_bytes: int, query_bytes: int) -> int:
    """Bytes of the larger of the two JSON forms of a request with `rows` rows, compact JSON.

    Strings are sized at their maximum encoded length (`item_id_bytes`, `query_bytes`, escapes
    included), so a client that sends compact JSON never exceeds this.

    Example: `request_body_bytes(rows=1, history_length=2, item_id_bytes=1, query_bytes=1) == 84`
    (`{"signature_name":"serving_default","instances":[{"query":"q","history":["i","i"]}]}`).
    """
    query, item = "q" * query_bytes, "i" * item_id_bytes
    history = [item] * history_length
    row = {"signature_name": SIGNATURE_NAME, "instances": [{"query": query, "history": history}] * rows}
    columnar = {"signature_name": SIGNATURE_NAME, "inputs": {"query": [query] * rows, "history": [history] * rows}}
    return max(len(json.dumps(doc, separators=(",", ":"))) for doc in (row, columnar))


def body_limit(*, max_batch: int, history_length: int, item_id_bytes: int, query_bytes: int) -> int:
    """The web ACL's body limit: a `max_batch`-row request's size, at most `WAF_ALB_BODY_LIMIT`."""
    largest = request_body_bytes(rows=max_batch, history_length=history_length, item_id_bytes=item_id_bytes,
                                 query_bytes=query_bytes)
    return min(largest, WAF_ALB_BODY_LIMIT)


def rows_admitted(*, max_batch: int, history_length: int, item_id_bytes: int, query_bytes: int) -> int:
    """The most rows one request may carry through the front door (0: not even one fits)."""
    limit = body_limit(max_batch=max_batch, history_length=history_length, item_id_bytes=item_id_bytes,
                       query_bytes=query_bytes)
    low, high = 0, max_batch  # request_body_bytes grows with rows: bisect the largest that fits
    while low < high:
        middle = (low + high + 1) // 2
        size = request_body_bytes(rows=middle, history_length=history_length, item_id_bytes=item_id_bytes,
                                  query_bytes=query_bytes)
        low, high = (middle, high) if size <= limit else (low, middle - 1)
    return low


def request_size_problems(key: str, *, history_length: int, item_id_bytes: int, query_bytes: int) -> list[str]:
    """A one-row request must fit the 8 KB the web ACL can inspect, or no request gets through."""
    one_row = request_body_bytes(rows=1, history_length=history_length, item_id_bytes=item_id_bytes,
                                 query_bytes=query_bytes)
    if one_row <= WAF_ALB_BODY_LIMIT:
        return []
    return [
        f"`{key}` gives a one-row Predict request of {one_row} bytes (historyLength={history_length} ids of up to "
        f"{item_id_bytes} bytes, a query of up to {query_bytes} bytes); AWS WAF inspects at most {WAF_ALB_BODY_LIMIT} "
        "bytes of an ALB request body, so the web ACL would refuse every request. Shorten the history, the item ids "
        "or the query"
    ]
