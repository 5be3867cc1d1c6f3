"""Stand-ins for a release: the front door's weighted routing and its CloudWatch metrics.

The front door itself is created in moto by `sandbox.seed.front_door` (and, for a candidate,
`seed.candidate_rules`), as `components.serving.front_door` creates it.

* `FrontDoorStandIn` answers HTTP on 127.0.0.1 as the balancer would: it reads the listener's
  rules from moto's ELBv2 on every request and evaluates them as ELB documents it (lowest
  priority first; path, method and header conditions; a weighted forward picks a group in
  proportion to the weights, a weight of 0 never), then proxies to the group's TF Serving stand-in
  (503 for a group without one, as a balancer with no registered target answers).
* `FrontDoorStandIn.simulate_minute` is the balancer's CloudWatch reporting: one minute of client
  traffic split by the rules' weights, each group's 5XX and response times from its `behaviour`,
  put into CloudWatch with the balancer's metric names and dimensions (ELB publishes per minute,
  nothing for a group without requests).
* `CloudWatchPercentiles` answers GetMetricData's percentile statistics (`p99`), which moto does
  not compute, from the values moto stored (nearest rank).
* `GoldenServing` is a TF Serving stand-in that answers each golden request with the answer the
  version's golden file holds (or a wrong one, `wrong = True`).
"""

from __future__ import annotations

import fnmatch
import json
import math
import random
import re
import threading
import http.client
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from recsys_dr.sandbox.serving import FakeServing

NAMESPACE = "AWS/ApplicationELB"
_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")


def _matches(condition: dict, method: str, path: str, headers: dict[str, str]) -> bool:
    """ELB's rule conditions (Elastic Load Balancing User Guide, "Listener rules"): paths case-sensitive
    with * and ?; methods exact; header names case-insensitive, values case-insensitive with * and ?."""
    kind = condition.get("Field")
    if kind == "path-pattern":
        values = (condition.get("PathPatternConfig") or {}).get("Values") or condition.get("Values") or []
        return any(fnmatch.fnmatchcase(path, v.replace("[", "[[]")) for v in values)
    if kind == "http-request-method":
        return method in (condition.get("HttpRequestMethodConfig") or {}).get("Values", [])
    if kind == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        value = headers.get(config.get("HttpHeaderName", "").lower())
        return value is not None and any(fnmatch.fnmatch(value.lower(), v.lower()) for v in config.get("Values", []))
    return False


@dataclass
class Behaviour:
    """How a target group's pods answer, for the simulated metrics."""

    error_rate: float = 0.0
    p50_ms: float = 20.0
    p99_ms: float = 40.0


@dataclass
class FrontDoorStandIn:
    """One region's balancer on `host` (127.0.0.x): routes by moto's rules to TF Serving stand-ins.

    Args:
        elbv2: moto ELBv2 client of the region.
        door: what `seed.front_door` returned.
        backends: target group ARN -> TF Serving stand-in.
        host: the loopback address to listen on (distinct per region: Route 53 answers tell them apart).
    """

    elbv2: Any
    door: dict
    backends: dict[str, FakeServing]
    host: str = "127.0.0.1"
    behaviour: dict[str, Behaviour] = field(default_factory=dict)
    seed: int = 7

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self.lock = threading.Lock()
        self.routed: dict[str, int] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer, kind = outer.route(method, self.path, headers, body)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def rules(self) -> list[dict]:
        found = self.elbv2.describe_rules(ListenerArn=self.door["listenerArn"])["Rules"]
        return sorted((r for r in found if not r.get("IsDefault")), key=lambda r: int(r["Priority"]))

    def weights(self) -> dict[str, int]:
        """Target group ARN -> weight of the first route rule (the release moves all of them together)."""
        for rule in self.rules():
            config = next((a.get("ForwardConfig") for a in rule["Actions"] if a.get("ForwardConfig")), None)
            if config:
                return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in config["TargetGroups"]}
        return {}

    def pick(self, action: dict) -> str:
        if action.get("TargetGroupArn") and not action.get("ForwardConfig"):
            return action["TargetGroupArn"]
        groups = action["ForwardConfig"]["TargetGroups"]
        total = sum(int(g.get("Weight", 1)) for g in groups)
        with self.lock:
            draw = self.random.uniform(0, total)
        for group in groups:
            draw -= int(group.get("Weight", 1))
            if draw < 0 and int(group.get("Weight", 1)) > 0:
                return group["TargetGroupArn"]
        return next(g["TargetGroupArn"] for g in reversed(groups) if int(g.get("Weight", 1)) > 0)

    def route(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        path = target.split("?")[0]
        for rule in self.rules():
            if all(_matches(c, method, path, headers) for c in rule["Conditions"]):
                group = self.pick(next(a for a in rule["Actions"] if a["Type"] == "forward"))
                with self.lock:
                    self.routed[group] = self.routed.get(group, 0) + 1
                backend = self.backends.get(group)
                if backend is None:
                    return 503, b"503 Service Temporarily Unavailable", "text/plain"
                return _proxy(backend, method, target, body)
        return 404, b"not found", "text/plain"

    def simulate_minute(self, cloudwatch: Any, minute: datetime, requests: int) -> dict[str, int]:
        """One minute of `requests` client requests, split by the route rules' weights, into CloudWatch."""
        shares = self.weights()
        total = sum(shares.values())
        lb = self.door["loadBalancerArn"].split(":loadbalancer/", 1)[1]
        served = {}
        for group, weight in shares.items():
            count = round(requests * weight / total) if total else 0
            served[group] = count
            if count == 0:
                continue  # ELB reports nothing for a group without requests
            behaviour = self.behaviour.get(group, Behaviour())
            dimensions = [{"Name": "LoadBalancer", "Value": lb},
                          {"Name": "TargetGroup", "Value": "targetgroup/" + group.split(":targetgroup/", 1)[1]}]
            slow = max(1, math.ceil(count * 0.02))
            data = [{"MetricName": "RequestCount", "Value": count, "Unit": "Count"},
                    {"MetricName": "HTTPCode_Target_5XX_Count", "Value": round(count * behaviour.error_rate), "Unit": "Count"},
                    {"MetricName": "TargetResponseTime", "Unit": "Seconds",
                     "Values": [behaviour.p50_ms / 1000, behaviour.p99_ms / 1000], "Counts": [count - slow, slow]}]
            cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=[
                {**d, "Dimensions": dimensions, "Timestamp": minute + timedelta(seconds=30)} for d in data])
        return served

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _proxy(backend: FakeServing, method: str, target: str, body: bytes) -> tuple[int, bytes, str]:
    connection = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=5)
    try:
        connection.request(method, target, body=body or None, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("Content-Type") or "application/json"
    finally:
        connection.close()


class GoldenServing(FakeServing):
    """TF Serving for one version that answers golden requests with the golden file's answers.

    Args:
        model: the model name; version: the version it serves; golden: the version's golden file.
        Other predict requests get the first golden answer (the shape of the signature's outputs).
    """

    def __init__(self, model: str, version: int, golden: dict, **kwargs: Any):
        self.golden = golden
        self.wrong = False
        self.answers = {json.dumps(row["inputs"], sort_keys=True): row["outputs"] for row in golden["rows"]}
        super().__init__(model, {str(version): "AVAILABLE"}, **kwargs)

    def predict(self, body: bytes) -> tuple[int, dict]:
        try:
            request = json.loads(body or b"{}")
            inputs = request["inputs"]
            row = {name: values[0] for name, values in inputs.items()}
        except (ValueError, KeyError, TypeError, IndexError):
            return 400, {"error": "Missing 'inputs' or 'instances' key"}
        self.predictions += 1
        outputs = self.answers.get(json.dumps(row, sort_keys=True)) or next(iter(self.answers.values()))
        if self.wrong:
            outputs = {name: list(reversed(value)) if isinstance(value, list) and all(isinstance(v, str) for v in value)
                       else value for name, value in outputs.items()}
        return 200, {"outputs": {name: [value] for name, value in outputs.items()}}


class CloudWatchPercentiles:
    """A moto CloudWatch client whose GetMetricData answers `pNN` statistics (moto answers none).

    A percentile over raw values, nearest rank, from the data points moto stored for the query's
    metric and dimensions in [StartTime, EndTime) (CloudWatch User Guide, "Percentiles").
    """

    def __init__(self, inner: Any, region: str, account: str = "123456789012"):
        self._inner, self.region, self.account = inner, region, account

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _values(self, metric: dict, start: datetime, end: datetime) -> list[float]:
        from moto.cloudwatch.models import MetricDatum, cloudwatch_backends

        wanted = sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
        found = []
        for datum in cloudwatch_backends[self.account][self.region].metric_data:
            if not isinstance(datum, MetricDatum) or datum.namespace != metric["Namespace"] or datum.name != metric["MetricName"]:
                continue
            stamp = datum.timestamp if datum.timestamp.tzinfo else datum.timestamp.replace(tzinfo=timezone.utc)  # moto: naive UTC
            if sorted((d.name, d.value) for d in datum.dimensions) == wanted and start <= stamp < end:
                found.append(datum.value)
        return sorted(found)

    def get_metric_data(self, *, MetricDataQueries: list, StartTime: datetime, EndTime: datetime, **kwargs: Any) -> dict:  # noqa: N803
        percentiles = [q for q in MetricDataQueries if _PERCENTILE.match(q.get("MetricStat", {}).get("Stat", ""))]
        others = [q for q in MetricDataQueries if q not in percentiles]
        answer = self._inner.get_metric_data(MetricDataQueries=others, StartTime=StartTime, EndTime=EndTime, **kwargs) \
            if others else {"MetricDataResults": []}
        for query in percentiles:
            stat = query["MetricStat"]
            values = self._values(stat["Metric"], StartTime, EndTime)
            result = {"Id": query["Id"], "Label": stat["Metric"]["MetricName"], "StatusCode": "Complete",
                      "Timestamps": [], "Values": []}
            if values:
                rank = float(_PERCENTILE.match(stat["Stat"]).group(1)) / 100
                result["Values"] = [values[min(len(values) - 1, max(0, math.ceil(rank * len(values)) - 1))]]
                result["Timestamps"] = [StartTime]
            answer["MetricDataResults"].append(result)
        return answer


def release_version(root: Any, *, model: str, version: int, metric: float, protocol: str = "leave-last-out",
                    rows: int = 4) -> Any:
    """A small version directory (not a loadable model) with golden requests and an offline evaluation in
    its manifest: what a release reads. Each version answers its golden rows with its own ranking."""
    from pathlib import Path

    from recsys_dr.model.golden import GOLDEN_PATH
    from recsys_dr.model.manifest import write_manifest

    version_dir = Path(root) / model / str(version)
    (version_dir / "variables").mkdir(parents=True, exist_ok=True)
    (version_dir / "saved_model.pb").write_bytes(f"graph of {model} v{version}".encode() * 20)
    (version_dir / "variables" / "variables.index").write_bytes(b"index")
    items = [f"sku-{version}{i:02d}" for i in range(6)]
    golden_rows = [{"inputs": {"query": f"query {i}", "history": ["", items[i]]},
                    "outputs": {"item_ids": items[i:i + 3], "scores": [0.5, 0.3, 0.2]}} for i in range(rows)]
    (version_dir / GOLDEN_PATH).parent.mkdir(parents=True, exist_ok=True)
    (version_dir / GOLDEN_PATH).write_text(json.dumps({"format": 1, "signature_name": "serving_default", "rows": golden_rows}))
    write_manifest(version_dir, model_name=model, version=version, metadata={
        "metrics": {"model": {"all": {"ndcg@10": metric, "hit_rate@10": metric * 2, "mrr": metric, "examples": 500}}},
        "evaluation": {"protocol": protocol, "exclude_seen": False, "test_users": 500},
        "golden": {"path": GOLDEN_PATH, "rows": rows, "signature_name": "serving_default"}})
    return version_dir
