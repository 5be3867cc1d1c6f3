"""moto's AWS APIs on 127.0.0.1, with the gaps the operator tools would meet filled in.

The server is moto's own WSGI application (what `moto_server` runs), in this process, behind a
small layer that answers what moto does not, from moto's own stored state:

* Route 53 `GetHealthCheckStatus` and `TestDNSAnswer`: see `sandbox.route53` (moto answers a fixed
  "Success" and has no TestDNSAnswer); an alias of a balancer registered with `register_balancer`
  follows that balancer's target health.
* S3 `GetBucketReplication`: moto keeps the configuration but answers every rule with
  `Filter: {Prefix: ""}` and without `SourceSelectionCriteria` (moto `s3/responses.py`
  `get_bucket_replication`), which hides what `replication.rule` checks; the configuration last
  put is answered as it was put.
* EKS `DescribeCluster`: moto invents an endpoint and a random `certificateAuthority.data`; a
  cluster registered with `register_cluster` answers the sandbox's Kubernetes API and its CA.
* ELBv2 `DescribeTargetHealth`: moto answers `healthy` for every registered target; see
  `sandbox.front_door` (a group bound with `bind_target_group` first registers its serving pods).

Any client reaches it with `endpoint_url=<url>` (or `AWS_ENDPOINT_URL`), any access key, and
signs its requests as usual: the Region comes from the signature's credential scope.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
import urllib.parse
from typing import Any, Callable, Iterable

from recsys_dr.sandbox import front_door, route53

ACCOUNT = "123456789012"
"""moto's default account: ARNs the sandbox writes use it."""
CREDENTIALS = {"aws_access_key_id": "sandbox", "aws_secret_access_key": "sandbox"}
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")
_HEALTH_STATUS = re.compile(r"^/2013-04-01/healthcheck/(?P<id>[^/]+)/status$")
_CLUSTER = re.compile(r"^/clusters/(?P<name>[^/]+)$")

Response = tuple[str, list[tuple[str, str]], bytes]


class Gaps:
    """WSGI layer in front of moto's application (see the module docstring)."""

    def __init__(self, app: Callable, *, client: Callable[[str, str], Any]):
        self.app = app
        self.client = client  # (service, region) -> a boto3 client of this server
        self.replication: dict[str, bytes] = {}  # bucket -> configuration XML as last put
        self.clusters: dict[tuple[str, str], dict[str, Any]] = {}  # (region, name) -> endpoint, CA
        self.bindings: dict[str, front_door.TargetGroupBinding] = {}  # target group ARN -> its binding
        self.balancers: dict[str, tuple[str, str]] = {}  # alias DNS name -> (region, load balancer ARN)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service, region = (scope["service"], scope["region"]) if scope else ("", "")
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        answer: Response | None = None
        if service == "route53" and method == "GET":
            answer = self._route53(path, query)
        elif service == "s3" and "replication" in query:
            answer = self._replication(environ, method, path.strip("/").split("/")[0])
        elif service == "eks" and method == "GET" and _CLUSTER.match(path):
            answer = self._cluster(environ, region, urllib.parse.unquote(_CLUSTER.match(path)["name"]))
        elif service == "elasticloadbalancing":
            answer = self._target_health(environ, region, query)
        if answer is None:
            return self.app(environ, start_response)
        status, headers, body = answer
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(len(body)))]
        start_response(status, headers)
        return [body]

    def _inner(self, environ: dict) -> Response:
        """moto's answer, collected."""
        captured: dict[str, Any] = {}

        def start(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured.update(status=status, headers=list(headers))
            return lambda _data: None

        chunks = self.app(environ, start)
        try:
            body = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        return captured["status"], captured["headers"], body

    def _route53(self, path: str, query: dict) -> Response | None:
        from botocore.exceptions import ClientError

        r53 = self.client("route53", "us-east-1")
        xml = [("Content-Type", "text/xml")]
        try:
            match = _HEALTH_STATUS.match(path)
            if match:
                config = r53.get_health_check(HealthCheckId=match["id"])["HealthCheck"]["HealthCheckConfig"]
                return "200 OK", xml, route53.status_xml(config, lambda: route53.probe(config))
            if path == "/2013-04-01/testdnsanswer":
                return "200 OK", xml, self._dns_answer(r53, query)
        except ClientError as exc:  # e.g. NoSuchHealthCheck: moto's own answer
            return (f"{exc.response['ResponseMetadata']['HTTPStatusCode']} Error", xml,
                    _error_xml(exc.response["Error"]["Code"], exc.response["Error"].get("Message", "")))
        return None

    def _dns_answer(self, r53: Any, query: dict) -> bytes:
        zone = query.get("hostedzoneid", [""])[0]
        name, kind = query.get("recordname", [""])[0], query.get("recordtype", [""])[0]
        sets = r53.list_resource_record_sets(HostedZoneId=zone, StartRecordName=name, StartRecordType=kind,
                                             MaxItems="10")["ResourceRecordSets"]

        def healthy(check_id: str) -> bool:
            config = r53.get_health_check(HealthCheckId=check_id)["HealthCheck"]["HealthCheckConfig"]
            return route53.is_healthy(config, lambda: route53.probe(config))

        return route53.dns_answer_xml(name, kind, route53.failover_answer(sets, name, kind, healthy,
                                                                          alias_healthy=self._balancer_healthy))

    def _balancer_healthy(self, dns_name: str) -> bool:
        """A registered balancer's health as an alias with EvaluateTargetHealth sees it (`front_door.balancer_healthy`);
        an alias of anything else counts as healthy."""
        entry = self.balancers.get(dns_name.lower())
        if entry is None:
            return True
        region, arn = entry
        elbv2 = self.client("elbv2", region)
        states = [[d["TargetHealth"]["State"] for d in elbv2.describe_target_health(
                      TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]]
                  for group in elbv2.describe_target_groups(LoadBalancerArn=arn)["TargetGroups"]]
        return front_door.balancer_healthy(states)

    def _replication(self, environ: dict, method: str, bucket: str) -> Response:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)) if method == "PUT" else b""
        environ["wsgi.input"] = io.BytesIO(body)
        status, headers, answer = self._inner(environ)
        if status.startswith("2"):
            if method == "PUT":
                self.replication[bucket] = body
            elif method == "DELETE":
                self.replication.pop(bucket, None)
            elif method == "GET" and bucket in self.replication:
                answer = self.replication[bucket]
        return status, headers, answer

    def _target_health(self, environ: dict, region: str, query: dict) -> Response | None:
        """DescribeTargetHealth by ELB's rules (`sandbox.front_door`); every other ELBv2 call is moto's."""
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        params = {**query, **urllib.parse.parse_qs(body.decode(errors="replace"), keep_blank_values=True)}
        if params.get("Action") != ["DescribeTargetHealth"]:
            return None
        arn = params.get("TargetGroupArn", [""])[0]
        binding = self.bindings.get(arn)
        if binding is not None:
            binding.reconcile()  # by the time anyone asks, the controller has caught up with the pods
        status, headers, answer = self._inner(environ)
        if not status.startswith("200"):  # e.g. TargetGroupNotFound: moto's own answer
            return status, headers, answer
        group = self.client("elbv2", region).describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]

        def health(target: dict[str, str]) -> dict[str, str]:
            return front_door.target_health(
                group, lambda path: binding.check(target, path) if binding is not None else None)

        return status, headers, front_door.rewrite_target_health_xml(answer, health)

    def _cluster(self, environ: dict, region: str, name: str) -> Response | None:
        status, headers, body = self._inner(environ)
        override = self.clusters.get((region, name))
        if override and status.startswith("200"):
            doc = json.loads(body)
            doc["cluster"]["endpoint"] = override["endpoint"]
            doc["cluster"]["certificateAuthority"] = {"data": override["ca_data"]}
            body = json.dumps(doc).encode()
        return status, headers, body


def _error_xml(code: str, message: str) -> bytes:
    from xml.sax.saxutils import escape

    return (f'<?xml version="1.0" encoding="UTF-8"?><ErrorResponse xmlns="{route53.XMLNS}"><Error><Type>Sender</Type>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error></ErrorResponse>").encode()


class AwsServer:
    """moto + `Gaps` on 127.0.0.1 in a thread of this process.

    Args:
        port: int, 0 picks a free port. Default 0.
        seed: int, seeds moto's random ids (hosted zone, health checks), so a sandbox started the
            same way gets the same ids. Default 24.
    """

    def __init__(self, *, port: int = 0, seed: int = 24):
        # moto's EKS node groups touch its EC2 backend, which otherwise loads ~30k default AMIs.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.gaps = Gaps(DomainDispatcherApplication(create_backend_app), client=self.client)
        class QuietHandler(MotoRequestHandler):
            def log_request(self, *_args: Any) -> None:  # one line per AWS call would bury the sandbox's own
                pass

        self.server = make_server("127.0.0.1", port, self.gaps, threaded=True, request_handler=QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self._seed(seed)

    def _seed(self, seed: int) -> None:
        import urllib.request

        request = urllib.request.Request(f"{self.url}/moto-api/seed?a={seed}", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - our own loopback server
            pass

    def client(self, service: str, region: str) -> Any:
        """A boto3 client of this server (cached; created under a lock, boto3 sessions are not thread-safe)."""
        import boto3
        from botocore.config import Config

        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = boto3.session.Session().client(
                    service, region_name=region, endpoint_url=self.url, config=Config(retries={"max_attempts": 1}),
                    **CREDENTIALS)
            return self._clients[key]

    def register_cluster(self, region: str, name: str, *, endpoint: str, ca_data: str) -> None:
        """Make `DescribeCluster` of `name` in `region` answer this API endpoint and CA (base64 PEM)."""
        self.gaps.clusters[(region, name)] = {"endpoint": endpoint, "ca_data": ca_data}

    def register_balancer(self, dns_name: str, *, region: str, load_balancer_arn: str) -> None:
        """Make Route 53 aliases of `dns_name` with EvaluateTargetHealth follow this balancer's targets."""
        self.gaps.balancers[dns_name.lower()] = (region, load_balancer_arn)

    def bind_target_group(self, binding: front_door.TargetGroupBinding) -> None:
        """Make `DescribeTargetHealth` of the binding's group register its pods first and probe them."""
        self.gaps.bindings[binding.target_group_arn] = binding

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
