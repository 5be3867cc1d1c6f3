"""A TF Serving REST look-alike on a loopback address: model status and `:predict`, in TF Serving's JSON.

What it answers (tensorflow/serving `tensorflow_serving/g3doc/api_rest.md`):

* `GET /v1/models/<model>[/versions/<v>]`: `{"model_version_status": [{"version": "3", "state":
  "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}` (a `GetModelStatusResponse`);
* `POST /v1/models/<model>[/versions/<v>]:predict`: row format (`instances`) answers
  `{"predictions": [{...}, ...]}`, one object per row since the signature has two outputs;
  columnar format (`inputs`) answers `{"outputs": {"item_ids": [...], "scores": [...]}}`;
* errors: `{"error": "<message>"}` with an HTTP error status, e.g. 404 "Servable not found".

The predictions are canned (the same items for every row, in the shape of the exported
`serving_default` signature: `item_ids` strings and `scores` floats, `top_k` of each): the
sandbox exercises the operator tools, not the model.

`ready` ties it to a region's pods: while it returns False the endpoint answers as a load
balancer with no healthy target does (HTTP 503, a plain-text body), which is what Route 53's
checkers and `recsys-dr status` see in front of a pilot-light standby.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

CANNED_ITEMS = ("item-1", "item-2", "item-3")
CANNED_SCORES = (0.5, 0.3, 0.2)
_MODEL_PATH = re.compile(r"^/v1/models/(?P<model>[^/:]+)(?:/versions/(?P<version>\d+))?(?::(?P<verb>\w+))?$")


class FakeServing:
    """TF Serving's REST API for one model. Mutate `versions` / `http_status` to change its answers.

    Args:
        model: str, the model name it serves.
        versions: dict[str, str], version -> state (AVAILABLE, LOADING, ...). Default {"1": "AVAILABLE"}.
        ready: callable() -> bool, whether any serving pod is Ready behind the endpoint. Default always.
        port: int, port on `host`; 0 picks a free one. Default 0.
        host: str, the loopback address to listen on. Default 127.0.0.1.
        tls: ssl.SSLContext, serve HTTPS with it (as the front door does on 443). Default plain HTTP.
    """

    def __init__(self, model: str, versions: dict[str, str] | None = None, *,
                 ready: Callable[[], bool] = lambda: True, port: int = 0, host: str = "127.0.0.1",
                 tls: ssl.SSLContext | None = None):
        self.model = model
        self.versions = versions if versions is not None else {"1": "AVAILABLE"}
        self.ready = ready
        self.http_status = 200
        self.requests = 0
        self.predictions = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _answer(self, method: str) -> None:
                outer.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if not outer.ready():
                    return self._send(503, b"503 Service Temporarily Unavailable", "text/plain")
                status, doc = outer.pod_answer(method, self.path, body)
                self._send(status, json.dumps(doc).encode())

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def pod_answer(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict]:
        """What one serving pod's TF Serving answers (no balancer in front): the front door's
        target-group health checks ask the pods this way."""
        if self.http_status != 200:
            return self.http_status, {"error": "unavailable"}
        return self.route(method, path, body)

    def route(self, method: str, path: str, body: bytes) -> tuple[int, dict]:
        match = _MODEL_PATH.match(path.split("?")[0].rstrip("/"))
        if not match or match["model"] != self.model:
            name = match["model"] if match else path
            return 404, {"error": f"Servable not found for request: Latest({name})"}
        version, verb = match["version"], match["verb"]
        if version is not None and version not in self.versions:
            return 404, {"error": f"Servable not found for request: Specific({self.model}, {version})"}
        if method == "GET" and verb is None:
            wanted = [version] if version is not None else list(self.versions)
            return 200, {"model_version_status": [
                {"version": v, "state": self.versions[v], "status": {"error_code": "OK", "error_message": ""}}
                for v in wanted]}
        if method == "POST" and verb == "predict":
            return self.predict(body)
        return 404, {"error": f"Malformed request: {method} {path}"}

    def predict(self, body: bytes) -> tuple[int, dict]:
        if not any(state == "AVAILABLE" for state in self.versions.values()):
            return 404, {"error": f"Servable not found for request: Latest({self.model})"}
        try:
            request = json.loads(body or b"{}")
        except ValueError as exc:
            return 400, {"error": f"JSON Parse error: {exc}"}
        row = {"item_ids": list(CANNED_ITEMS), "scores": list(CANNED_SCORES)}
        if isinstance(request, dict) and isinstance(request.get("instances"), list):
            self.predictions += 1
            return 200, {"predictions": [dict(row) for _ in request["instances"]]}
        if isinstance(request, dict) and isinstance(request.get("inputs"), dict):
            rows = len(next(iter(request["inputs"].values()), []) or [])
            self.predictions += 1
            return 200, {"outputs": {key: [list(value) for _ in range(rows)] for key, value in row.items()}}
        # tensorflow_serving/util/json_tensor.cc FillPredictRequestFromJson
        return 400, {"error": "Missing 'inputs' or 'instances' key"}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
