"""The sandbox's stand-ins keep the real systems' rules: Route 53's checkers and failover answers,
TF Serving's REST format, and the moto gaps filled from moto's own state."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session
import pytest

from recsys_dr.sandbox import front_door, route53, seed
from recsys_dr.sandbox.serving import FakeServing


@pytest.fixture
def serving():
    server = FakeServing("recommender", {"3": "AVAILABLE"})
    yield server
    server.stop()


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


# --------------------------------------------------------------------------- TF Serving


def test_model_status_is_tf_servings_get_model_status_json(serving):
    # tensorflow/serving g3doc/api_rest.md, "Model status API" example.
    status, doc = get(f"http://127.0.0.1:{serving.port}/v1/models/recommender")
    assert status == 200
    assert doc == {"model_version_status": [
        {"version": "3", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}


def test_unknown_model_is_a_404_with_an_error_key(serving):
    status, doc = get(f"http://127.0.0.1:{serving.port}/v1/models/other")
    assert status == 404 and doc == {"error": "Servable not found for request: Latest(other)"}


def test_predict_row_format_answers_one_object_per_instance(serving):
    # Two named outputs: "predictions" is a list of objects (api_rest.md, "Response format").
    status, doc = post(f"http://127.0.0.1:{serving.port}/v1/models/recommender:predict",
                       {"instances": [{"query": "a", "history": ["x"]}, {"query": "b", "history": ["y"]}]})
    assert status == 200 and len(doc["predictions"]) == 2
    assert set(doc["predictions"][0]) == {"item_ids", "scores"}


def test_predict_columnar_format_answers_outputs_by_name(serving):
    status, doc = post(f"http://127.0.0.1:{serving.port}/v1/models/recommender/versions/3:predict",
                       {"inputs": {"query": ["a", "b", "c"], "history": [["x"], ["y"], ["z"]]}})
    assert status == 200 and set(doc["outputs"]) == {"item_ids", "scores"}
    assert len(doc["outputs"]["scores"]) == 3


def test_predict_without_instances_or_inputs_is_refused_as_tf_serving_does(serving):
    status, doc = post(f"http://127.0.0.1:{serving.port}/v1/models/recommender:predict", {"rows": []})
    assert status == 400 and doc == {"error": "Missing 'inputs' or 'instances' key"}


def test_no_ready_pod_answers_as_a_balancer_without_healthy_targets():
    server = FakeServing("recommender", {"3": "AVAILABLE"}, ready=lambda: False)
    try:
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/v1/models/recommender", timeout=5)
        assert caught.value.code == 503
    finally:
        server.stop()


# --------------------------------------------------------------------------- Route 53 checkers


class BodyServer:
    """Answers every GET with `status` and `body`."""

    def __init__(self, status: int, body: bytes):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def config(self, **extra) -> dict:
        return {"Type": "HTTP_STR_MATCH", "FullyQualifiedDomainName": "127.0.0.1", "Port": self.port,
                "ResourcePath": "/v1/models/recommender", "SearchString": "AVAILABLE", **extra}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("status, body, passes", [
    (200, b'{"state": "AVAILABLE"}', True),
    (200, b" " * (route53.SEARCH_BYTES - 9) + b"AVAILABLE", True),  # ends on byte 5,120
    (200, b" " * (route53.SEARCH_BYTES - 8) + b"AVAILABLE", False),  # one byte past it
    (200, b'{"state": "available"}', False),  # the search is case-sensitive
    (302, b"AVAILABLE", True),  # 3xx passes
    (404, b"AVAILABLE", False),
    (503, b"AVAILABLE", False),
])
def test_string_match_check_follows_route53s_rules(status, body, passes):
    # Route 53 API reference, HealthCheckConfig.Type / SearchString: status >= 200 and < 400, string
    # in the first 5,120 bytes of the body, case counts.
    server = BodyServer(status, body)
    try:
        ok, text = route53.probe(server.config())
    finally:
        server.stop()
    assert ok is passes
    assert text.startswith("Success" if passes else "Failure")


def test_refused_connection_fails_the_check():
    ok, text = route53.probe({"Type": "HTTP_STR_MATCH", "FullyQualifiedDomainName": "127.0.0.1", "Port": 9,
                              "ResourcePath": "/", "SearchString": "x"})
    assert not ok and text.startswith("Failure: Connection to 127.0.0.1 failed")


@pytest.mark.parametrize("config, probe_passes, healthy", [
    ({}, True, True),
    ({}, False, False),
    ({"Inverted": True}, True, False),
    ({"Inverted": True}, False, True),
    ({"Disabled": True}, False, True),  # a disabled check is healthy ...
    ({"Disabled": True, "Inverted": True}, True, False),  # ... and inverting it is how traffic is stopped
])
def test_inverted_and_disabled_checks(config, probe_passes, healthy):
    # Route 53 API reference, UpdateHealthCheck: Disabled ("considers the status ... always healthy"), Inverted.
    assert route53.is_healthy(config, lambda: (probe_passes, "")) is healthy


def failover_pair(primary_check: str | None = "hc-p", standby_check: str | None = "hc-s") -> list[dict]:
    def record(failover, value, check):
        return {"Name": "recs.example.com.", "Type": "CNAME", "Failover": failover, "SetIdentifier": failover,
                "ResourceRecords": [{"Value": value}], **({"HealthCheckId": check} if check else {})}
    return [record("PRIMARY", "p.example.com", primary_check), record("SECONDARY", "s.example.com", standby_check)]


@pytest.mark.parametrize("healthy, answer", [
    ({"hc-p": True, "hc-s": True}, ["p.example.com"]),
    ({"hc-p": False, "hc-s": True}, ["s.example.com"]),
    ({"hc-p": False, "hc-s": False}, ["p.example.com"]),  # none healthy: all count as healthy
    ({"hc-p": True, "hc-s": False}, ["p.example.com"]),
])
def test_failover_answer(healthy, answer):
    # Route 53 Developer Guide, "How Amazon Route 53 chooses records when health checking is configured".
    assert route53.failover_answer(failover_pair(), "recs.example.com", "CNAME", healthy.__getitem__) == answer


def test_a_failover_record_without_a_check_is_always_healthy():
    records = failover_pair(primary_check=None)
    assert route53.failover_answer(records, "recs.example.com.", "CNAME", lambda _id: False) == ["p.example.com"]


# --------------------------------------------------------------------------- moto gaps, over HTTP


@pytest.fixture(scope="module")
def aws():
    from recsys_dr.sandbox.aws import AwsServer

    server = AwsServer()
    yield server
    server.stop()


def test_replication_configuration_is_answered_as_it_was_put(aws):
    # moto alone answers Filter {Prefix: ""} and drops SourceSelectionCriteria (moto s3/responses.py).
    s3 = aws.client("s3", "us-east-1")
    seed.model_bucket(s3, None, bucket="gap-primary", region="us-east-1")
    config = seed.replication_configuration(standby_bucket="gap-standby", standby_key_arn="arn:aws:kms:us-west-2:1:key/k")
    s3.put_bucket_replication(Bucket="gap-primary", ReplicationConfiguration=config)
    rule = s3.get_bucket_replication(Bucket="gap-primary")["ReplicationConfiguration"]["Rules"][0]
    assert rule["Filter"] == {"Prefix": "models/"}
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    assert rule["Destination"]["EncryptionConfiguration"] == {"ReplicaKmsKeyID": "arn:aws:kms:us-west-2:1:key/k"}


def test_describe_cluster_answers_the_registered_api_server_and_ca(aws):
    eks = aws.client("eks", "us-west-2")
    seed.gpu_cluster(eks, cluster="gap-cluster", node_group="gap-gpu", scaling={"minSize": 0, "desiredSize": 0,
                                                                                "maxSize": 2})
    aws.register_cluster("us-west-2", "gap-cluster", endpoint="https://127.0.0.1:6443", ca_data="Q0E=")
    cluster = eks.describe_cluster(name="gap-cluster")["cluster"]
    assert cluster["endpoint"] == "https://127.0.0.1:6443" and cluster["certificateAuthority"] == {"data": "Q0E="}
    assert aws.client("eks", "us-east-1").list_clusters()["clusters"] == []  # registered per Region


def test_health_status_and_dns_answer_follow_the_endpoints_and_inversion(aws):
    primary, standby = FakeServing("recommender", {"1": "AVAILABLE"}), FakeServing("recommender", {"1": "AVAILABLE"})
    r53 = aws.client("route53", "us-east-1")
    try:
        zone = seed.hosted_zone(r53, record_name="recs.gap.example.com")
        checks = {role: seed.serving_health_check(r53, role=f"gap-{role}", host=host, port=srv.port,
                                                  model="recommender", interval=10, threshold=3)
                  for role, host, srv in (("primary", "127.0.0.1", primary), ("standby", "localhost", standby))}
        seed.failover_records(r53, zone_id=zone, record_name="recs.gap.example.com", ttl=30,
                              hosts={"primary": "127.0.0.1", "standby": "localhost"}, health_check_ids=checks)

        def answer():
            return r53.test_dns_answer(HostedZoneId=zone, RecordName="recs.gap.example.com",
                                       RecordType="CNAME")["RecordData"]

        assert answer() == ["127.0.0.1"]
        observations = r53.get_health_check_status(HealthCheckId=checks["primary"])["HealthCheckObservations"]
        assert len(observations) == len(route53.CHECKER_REGIONS)
        assert all(o["StatusReport"]["Status"].startswith("Success") for o in observations)
        r53.update_health_check(HealthCheckId=checks["primary"], Inverted=True)
        assert answer() == ["localhost"]
        r53.update_health_check(HealthCheckId=checks["primary"], Inverted=False)
        primary.stop()
        status = r53.get_health_check_status(HealthCheckId=checks["primary"])["HealthCheckObservations"][0]
        assert status["StatusReport"]["Status"].startswith("Failure")
        assert answer() == ["localhost"]
    finally:
        for server in (primary, standby):
            server.stop() if server.thread.is_alive() else None


def test_unknown_health_check_is_route53s_error(aws):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="NoSuchHealthCheck"):
        aws.client("route53", "us-east-1").get_health_check_status(HealthCheckId="00000000-0000-0000-0000-000000000000")


# --------------------------------------------------------------------------- the front door's target group


@pytest.mark.parametrize("matcher, status, matches", [
    ("200", 200, True), ("200", 503, False), ("200,202", 202, True), ("200-299", 204, True), ("200-299", 301, False),
])
def test_health_check_matcher_takes_codes_lists_and_ranges(matcher, status, matches):
    # ELB API reference, Matcher.HttpCode: "200", "200,202" or "200-299".
    assert front_door.code_matches(status, matcher) is matches


IN_USE = {"LoadBalancerArns": ["arn:lb"], "HealthCheckEnabled": True, "HealthCheckPath": "/v1/models/recommender",
          "Matcher": {"HttpCode": "200"}}


@pytest.mark.parametrize("group, status, health", [
    (IN_USE, 200, {"State": "healthy"}),
    (IN_USE, 503, {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
                   "Description": "Health checks failed with these codes: [503]"}),
    (IN_USE, None, {"State": "unhealthy", "Reason": "Target.FailedHealthChecks", "Description": "Health checks failed"}),
    ({**IN_USE, "LoadBalancerArns": []}, 200, {"State": "unused", "Reason": "Target.NotInUse",
                                               "Description": front_door.NOT_IN_USE}),
    ({**IN_USE, "HealthCheckEnabled": False}, 200, {"State": "unavailable", "Reason": "Target.HealthCheckDisabled",
                                                    "Description": front_door.CHECKS_DISABLED}),
])
def test_target_health_follows_elbs_reason_codes(group, status, health):
    # ELB API reference, TargetHealth (State / Reason); descriptions as botocore's and the AWS CLI's examples print them.
    asked = []
    assert front_door.target_health(group, lambda path: asked.append(path) or status) == health
    assert asked in ([], ["/v1/models/recommender"])


@pytest.mark.parametrize("states, healthy", [
    ([], False),
    ([[]], False),  # a target group without registered targets counts as unhealthy
    ([["unhealthy", "healthy"]], True),
    ([["healthy"], ["unhealthy"]], False),  # every group needs a healthy target
])
def test_an_alias_with_evaluate_target_health_follows_every_target_group(states, healthy):
    # Route 53 API reference, AliasTarget.EvaluateTargetHealth, "Application and Network Load Balancers".
    assert front_door.balancer_healthy(states) is healthy


def test_target_group_arguments_map_to_a_valid_create_target_group_call():
    # Every argument the component gives its target group reaches the sandbox's (an unmapped one raises).
    from botocore.validate import ParamValidator

    from recsys_dr.components.serving import balancer

    create, attributes = seed.target_group_api(balancer.target_group("recommender"))
    shape = botocore.session.get_session().get_service_model("elbv2").operation_model("CreateTargetGroup").input_shape
    report = ParamValidator().validate({"Name": "rdr-x", "VpcId": "vpc-1", **create}, shape)
    assert not report.has_errors(), report.generate_report()
    assert {a["Key"] for a in attributes} == {"deregistration_delay.timeout_seconds", "load_balancing.algorithm.type"}


def test_an_alias_answer_is_its_targets_addresses():
    records = [{"Name": "recs.example.com.", "Type": "A", "Failover": failover, "SetIdentifier": failover,
                "AliasTarget": {"DNSName": name, "HostedZoneId": "Z", "EvaluateTargetHealth": True}}
               for failover, name in (("PRIMARY", "p-lb.example.com"), ("SECONDARY", "s-lb.example.com"))]
    addresses = {"p-lb.example.com": ["3.5.0.1", "3.5.0.2"], "s-lb.example.com": ["34.1.1.1"]}
    answer = route53.failover_answer(records, "recs.example.com", "A", lambda _id: True,
                                     alias_healthy=lambda name: name != "p-lb.example.com", addresses=addresses.get)
    assert answer == ["34.1.1.1"]  # the primary's balancer has no healthy target


@pytest.fixture
def door(aws):
    """A front door in the sandbox's moto, both its target groups bound to `pods` pods of one TF Serving
    stand-in (the canary group holds the stable pods while no candidate is pinned: ModelServing)."""
    serving = FakeServing("recommender", {"1": "AVAILABLE"}, host="127.0.0.2")
    region = "us-west-2"
    net = seed.network(aws.client("ec2", region), region=region)
    name = f"rdr-{serving.port}"
    arns = seed.front_door(aws.client("ec2", region), aws.client("elbv2", region), model="recommender", net=net,
                           load_balancer_name=name, target_group_name=name)
    pods = {"ready": 0}
    for group in ("targetGroupArn", "canaryTargetGroupArn"):
        aws.bind_target_group(front_door.TargetGroupBinding(
            elbv2=lambda: aws.client("elbv2", region), target_group_arn=arns[group], pods=lambda: pods["ready"],
            pod_cidr=net["subnets"][0]["cidr"], port=8501, answer=lambda path: serving.pod_answer("GET", path)[0]))
    yield {"serving": serving, "pods": pods, "net": net, "elbv2": aws.client("elbv2", region), **arns}
    serving.stop()


def states(door) -> dict[str, tuple]:
    found = door["elbv2"].describe_target_health(TargetGroupArn=door["targetGroupArn"])["TargetHealthDescriptions"]
    return {d["Target"]["Id"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason")) for d in found}


def test_target_health_has_the_ready_pods_and_asks_them(door):
    # aws-load-balancer-controller pkg/backend/endpoint_resolver.go: only pods that are Ready (or whose
    # containers are, behind the readiness gate) are registered; ELB then health-checks each of them.
    assert states(door) == {}  # no pod: no target (a pilot light at rest)
    door["pods"]["ready"] = 2
    assert states(door) == {"10.0.0.10": ("healthy", None), "10.0.0.11": ("healthy", None)}
    door["serving"].http_status = 503
    assert set(states(door).values()) == {("unhealthy", "Target.ResponseCodeMismatch")}
    door["serving"].http_status = 200
    door["pods"]["ready"] = 1
    assert states(door) == {"10.0.0.10": ("healthy", None)}  # the pod gone left the group


def test_a_target_group_no_listener_forwards_to_is_not_in_use(door):
    # moto alone answers "healthy" for any registered target (moto elbv2/models.py health_for).
    elbv2 = door["elbv2"]
    group = elbv2.create_target_group(Name="rdr-idle", Protocol="HTTP", Port=8501, VpcId=door["net"]["vpcId"],
                                      TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.0.0.99", "Port": 8501}])
    health = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"][0]["TargetHealth"]
    assert (health["State"], health["Reason"]) == ("unused", "Target.NotInUse")


def test_an_alias_follows_its_balancers_targets_besides_its_health_check(aws, door):
    primary = FakeServing("recommender", {"1": "AVAILABLE"})
    r53 = aws.client("route53", "us-east-1")
    try:
        zone = seed.hosted_zone(r53, record_name="recs.alias.example.com")
        hosts = {"primary": "127.0.0.1", "standby": "127.0.0.2"}
        servers = {"primary": primary, "standby": door["serving"]}
        checks = {role: seed.serving_health_check(r53, role=f"alias-{role}", host=hosts[role], port=servers[role].port,
                                                  model="recommender", interval=10, threshold=3) for role in hosts}
        seed.failover_alias_records(r53, zone_id=zone, record_name="recs.alias.example.com",
                                    targets={role: {"DNSName": host, "HostedZoneId": "Z1H1FL5HABSF5",
                                                    "EvaluateTargetHealth": True} for role, host in hosts.items()},
                                    health_check_ids=checks)
        # The door's balancer plays the primary's: both health checks pass, only its targets change.
        aws.register_balancer("127.0.0.1", region="us-west-2", load_balancer_arn=door["loadBalancerArn"])

        def answer():
            return r53.test_dns_answer(HostedZoneId=zone, RecordName="recs.alias.example.com",
                                       RecordType="A")["RecordData"]

        assert answer() == ["127.0.0.2"]  # no target registered: the primary's alias is unhealthy
        door["pods"]["ready"] = 1
        assert answer() == ["127.0.0.1"]
    finally:
        primary.stop()


def test_https_string_match_check_probes_over_tls():
    from recsys_dr.sandbox.tls import make_server_certificate, server_context

    tls = server_context(make_server_certificate(dns_names=("recs.example.com",), ip_addresses=()))
    server = FakeServing("recommender", {"3": "AVAILABLE"}, tls=tls)
    try:
        config = {"Type": "HTTPS_STR_MATCH", "FullyQualifiedDomainName": "127.0.0.1", "Port": server.port,
                  "ResourcePath": "/v1/models/recommender", "SearchString": "AVAILABLE", "EnableSNI": True}
        assert route53.probe(config) == (True, "Success: HTTP Status Code 200, OK")
        assert not route53.probe({**config, "Type": "HTTP_STR_MATCH"})[0]  # plain HTTP to a TLS port
    finally:
        server.stop()
