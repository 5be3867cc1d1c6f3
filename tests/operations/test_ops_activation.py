"""Standby activation and restore: EKS node group, HPA and Deployment, waits with a bound.

Kubernetes calls go to `FakeKube` (a real HTTP server on 127.0.0.1 with the HPA controller's clamp);
EKS calls to `FakeEks` (EKS's scaling rules) or to a real boto3 client under botocore's Stubber,
which validates every request against the EKS service model.
"""

from __future__ import annotations

import base64
import copy
import urllib.parse

import boto3
import pytest
from botocore.stub import Stubber

from recsys_dr.operations.activation import ActivationError, Activator, nodes_for, plan_sizing
from recsys_dr.operations.kube import KubeApi, KubeError, eks_token
from recsys_dr.operations.outputs import parse_outputs
from recsys_dr.sandbox.kube import FakeKube
from tests.operations.ops_fixtures import outputs_doc


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeEks:
    """EKS node group scaling with the API's rules (API_NodegroupScalingConfig / UpdateNodegroupConfig):
    0 <= minSize <= desiredSize <= maxSize and maxSize >= 1, else InvalidParameterException."""

    def __init__(self, scaling: dict[str, int]):
        self.scaling = dict(scaling)
        self.updates: list[dict] = []

    def describe_nodegroup(self, clusterName, nodegroupName):  # noqa: N803
        return {"nodegroup": {"clusterName": clusterName, "nodegroupName": nodegroupName, "status": "ACTIVE",
                              "scalingConfig": dict(self.scaling)}}

    def update_nodegroup_config(self, clusterName, nodegroupName, scalingConfig):  # noqa: N803
        from botocore.exceptions import ClientError

        new = {**self.scaling, **scalingConfig}
        if not (0 <= new["minSize"] <= new["desiredSize"] <= new["maxSize"] and new["maxSize"] >= 1):
            raise ClientError({"Error": {"Code": "InvalidParameterException", "Message": "bad scaling"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "UpdateNodegroupConfig")
        self.scaling = new
        self.updates.append(dict(scalingConfig))
        return {"update": {"id": f"u{len(self.updates)}", "status": "InProgress", "type": "ConfigUpdate"}}


def pilot_outputs(**standby):
    doc = outputs_doc()
    doc["standbyMode"] = "pilot-light"
    for role in ("primary", "standby"):
        doc["regions"][role].update({"hpaName": "tf-serving", "podsPerGpuNode": 1,
                                     "activeGpuScaling": {"minSize": 2, "desiredSize": 2, "maxSize": 8},
                                     "serving": {"replicas": 2, "minReplicas": 2, "maxReplicas": 8}})
    doc["regions"]["standby"]["gpuScaling"] = {"minSize": 0, "desiredSize": 0, "maxSize": 8}
    doc["regions"]["standby"]["serving"] = {"replicas": 0, "minReplicas": 2, "maxReplicas": 8}
    doc["regions"]["standby"].update(standby)
    return parse_outputs(doc)


def kube_api(fake: FakeKube, clock=None) -> KubeApi:
    return KubeApi(server=fake.url, ca_data=None, token=lambda: "k8s-aws-v1.dGVzdA", clock=clock or (lambda: 0.0))


@pytest.fixture
def standby_world():
    eks = FakeEks({"minSize": 0, "desiredSize": 0, "maxSize": 8})
    kube = FakeKube(node_group="gpu-standby", replicas=0, hpa_min=2, hpa_max=8,
                    desired=lambda: eks.scaling["desiredSize"], join_polls=3)
    primary = FakeKube(node_group="gpu-primary", replicas=5, hpa_min=2, hpa_max=8, ready_nodes=5,
                       desired=lambda: 5)
    yield eks, kube, primary
    kube.stop()
    primary.stop()


def activator(outputs, eks, kube, primary=None, clock=None, **kwargs) -> Activator:
    clock = clock or FakeClock()
    return Activator(outputs=outputs, eks=eks, kube=lambda: kube_api(kube, clock),
                     primary_kube=(lambda: kube_api(primary, clock)) if primary else None,
                     clock=clock, sleep=clock.sleep, poll_interval=10, **kwargs)


# --------------------------------------------------------------------------- EKS token


def test_token_is_what_aws_eks_get_token_makes(monkeypatch):
    """Same URL (host, action, signed headers, expiry) as awscli's own TokenGenerator."""
    from awscli.customizations.eks.get_token import STSClientFactory, TokenGenerator

    session = boto3.session.Session(region_name="us-west-2")
    theirs = TokenGenerator(STSClientFactory(session._session).get_sts_client(region_name="us-west-2")).get_token("c1")
    ours = eks_token(session.client("sts", region_name="us-west-2"), "c1")

    def decoded(token):
        assert token.startswith("k8s-aws-v1.") and "=" not in token
        url = base64.urlsafe_b64decode(token[len("k8s-aws-v1."):] + "==").decode()
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        return parts.netloc, {k: v for k, v in query.items() if k not in ("X-Amz-Date", "X-Amz-Signature")}

    assert decoded(ours) == decoded(theirs)
    host, query = decoded(ours)
    # Regional STS: a standby token must not depend on us-east-1.
    assert host == "sts.us-west-2.amazonaws.com"
    assert query["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id" and query["X-Amz-Expires"] == "60"


def test_token_header_handler_does_not_leak_into_later_sts_calls():
    sts = boto3.client("sts", region_name="us-west-2")
    eks_token(sts, "c1")
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    assert "x-k8s-aws-id" not in url


def test_token_is_refreshed_before_eks_stops_accepting_it():
    fake = FakeKube()
    clock, made = FakeClock(), []
    api = KubeApi(server=fake.url, ca_data=None, token=lambda: made.append(1) or f"k8s-aws-v1.t{len(made)}", clock=clock)
    try:
        api.hpa_bounds("recsys", "tf-serving")
        clock.now = 599
        api.hpa_bounds("recsys", "tf-serving")
        clock.now = 601  # EKS accepts a token for 15 min; refresh at 10
        api.hpa_bounds("recsys", "tf-serving")
    finally:
        fake.stop()
    assert [t.split(".")[-1] for t in fake.tokens] == ["t1", "t1", "t2"]


def test_unauthorized_names_the_access_entry_fix():
    fake = FakeKube()
    fake.fail_all = 403
    api = kube_api(fake)
    try:
        with pytest.raises(KubeError, match=r"HTTP 403 forbidden by RBAC \(is your role in the cluster's access entries"):
            api.hpa_bounds("recsys", "tf-serving")
    finally:
        fake.stop()


# --------------------------------------------------------------------------- sizing


def test_nodes_round_up_to_whole_nodes():
    assert [nodes_for(n, 2) for n in (1, 2, 3, 4)] == [1, 1, 2, 2]
    assert nodes_for(3, None) == 3


def test_sizing_raises_the_hpa_max_so_it_cannot_cap_the_scale():
    """A hand-run `kubectl scale` (the runbook says not to): an HPA with maxReplicas 1 clamps 4 replicas back to 1."""
    out = pilot_outputs()
    sizing = plan_sizing(out.standby, replicas=4, source="test",
                         current_scaling={"minSize": 0, "desiredSize": 0, "maxSize": 8},
                         current_hpa={"minReplicas": 1, "maxReplicas": 1})
    assert sizing.hpa == {"minReplicas": 4, "maxReplicas": 4}
    assert sizing.node_group == {"minSize": 4, "desiredSize": 4, "maxSize": 8}


def test_sizing_never_lowers_a_warm_standby():
    out = pilot_outputs()
    sizing = plan_sizing(out.standby, replicas=2, source="test",
                         current_scaling={"minSize": 3, "desiredSize": 5, "maxSize": 8},
                         current_hpa={"minReplicas": 3, "maxReplicas": 8})
    assert sizing.node_group == {"minSize": 3, "desiredSize": 5, "maxSize": 8}
    assert sizing.hpa == {"minReplicas": 3, "maxReplicas": 8}


def test_sizing_caps_at_the_pool_max_and_says_so():
    out = pilot_outputs()
    sizing = plan_sizing(out.standby, replicas=12, source="test",
                         current_scaling={"minSize": 0, "desiredSize": 0, "maxSize": 8},
                         current_hpa={"minReplicas": 2, "maxReplicas": 8})
    assert sizing.nodes == 8 and sizing.replicas == 8 and sizing.node_group["desiredSize"] == 8
    assert "maxSize is 8" in sizing.notes[0]


# --------------------------------------------------------------------------- activation


COLD_START = {"capacityWaitSeconds": 900, "nodeSeconds": 300, "imagePullSeconds": 120, "modelLoadSeconds": 60,
              "capacityGuaranteed": False, "imageCache": False}
PHASES = ["nodes ready", "pods ready", "pod image pull", "pod model fetch and load", "health check healthy"]


def test_pilot_light_activation_matches_the_primary_and_waits_for_every_phase(standby_world):
    eks, kube, primary = standby_world
    act = activator(pilot_outputs(coldStart=COLD_START), eks, kube, primary, health=lambda: (True, "4/4 checkers healthy"))
    sizing = act.activate()
    assert sizing.replicas == 5 and "primary us-east-1 runs 5" in sizing.source
    assert eks.updates == [{"minSize": 5, "desiredSize": 5, "maxSize": 8}]
    assert kube.replicas == 5 and (kube.hpa_min, kube.hpa_max) == (5, 8)
    assert [p.name for p in act.phases] == PHASES
    assert all(p.ok for p in act.phases)
    phases = {p.name: p for p in act.phases}
    assert phases["nodes ready"].seconds == 30  # nodes joined on the 4th poll, 10 s apart
    # Without a reservation the node phase may first wait a whole Cluster Autoscaler provisioning attempt.
    assert phases["nodes ready"].budget_seconds == 900 + 300
    # The slowest of the five pods (FakeKube.pod_start, one second slower per pod): pulls 4+4 and 30+4 s,
    # fetch 6+4 s, load 9+4 s, each measured from the pod's own timestamps.
    assert (phases["pod image pull"].seconds, phases["pod image pull"].budget_seconds) == (42, 120)
    assert (phases["pod model fetch and load"].seconds, phases["pod model fetch and load"].budget_seconds) == (23, 60)
    assert "tf-serving-4" in phases["pod image pull"].detail
    # interval 10 s x threshold 3: Route 53 needs that many passing checks to call it healthy.
    assert phases["health check healthy"].budget_seconds == 30


def test_hpa_is_raised_before_the_deployment_is_scaled(standby_world):
    """Scaling first would leave the HPA free to clamp the Deployment to the old bounds."""
    eks, kube, primary = standby_world
    activator(pilot_outputs(), eks, kube, primary).activate()
    paths = [path.rsplit("/", 1)[-1] for path, _ in kube.writes()]
    assert paths == ["tf-serving", "scale"]


def test_primary_unreachable_falls_back_to_the_declared_minimum(standby_world):
    eks, kube, primary = standby_world
    primary.stop()
    act = activator(pilot_outputs(), eks, kube, primary)
    sizing = act.activate()
    assert sizing.replicas == 2 and "outputs" in sizing.source
    assert kube.replicas == 2


def test_replicas_option_overrides_the_primary(standby_world):
    eks, kube, primary = standby_world
    sizing = activator(pilot_outputs(), eks, kube, primary, replicas=3).activate()
    assert sizing.replicas == 3 and eks.scaling["desiredSize"] == 3


def test_activation_is_bounded_and_names_the_phase_that_did_not_finish(standby_world):
    eks, kube, primary = standby_world
    kube.join_polls = 10_000  # the GPU capacity never arrives
    act = activator(pilot_outputs(), eks, kube, primary, timeout=120)
    with pytest.raises(ActivationError, match=r"not ready within 120s: nodes ready: 0/5 nodes Ready"):
        act.activate()
    assert act.phases[-1].name == "nodes ready" and not act.phases[-1].ok
    assert act.clock() == 120


def test_unhealthy_health_check_keeps_waiting_until_the_bound(standby_world):
    eks, kube, primary = standby_world
    act = activator(pilot_outputs(), eks, kube, primary, timeout=200,
                    health=lambda: (False, "0/4 checkers healthy"))
    with pytest.raises(ActivationError, match="health check healthy: 0/4 checkers healthy"):
        act.activate()
    assert [p.ok for p in act.phases] == [True, True, True, True, False]


def test_refuses_a_scaling_eks_would_reject():
    out = pilot_outputs()
    eks = FakeEks({"minSize": 0, "desiredSize": 0, "maxSize": 8})
    act = Activator(outputs=out, eks=eks, kube=lambda: None)
    with pytest.raises(ActivationError, match="EKS needs 0 <= minSize <= desiredSize <= maxSize"):
        act._set_scaling({"minSize": 3, "desiredSize": 2, "maxSize": 8})
    assert eks.updates == []


def test_update_nodegroup_config_request_is_valid_for_the_eks_model(standby_world):
    """Stubber checks the request against botocore's EKS model (names, types, required members)."""
    _eks, kube, primary = standby_world
    eks = boto3.client("eks", region_name="us-west-2")
    stub = Stubber(eks)
    ng = {"clusterName": "c-standby", "nodegroupName": "gpu-standby"}
    scaling = {"minSize": 0, "desiredSize": 0, "maxSize": 8}
    for _ in range(2):
        stub.add_response("describe_nodegroup", {"nodegroup": {**ng, "scalingConfig": scaling}}, ng)
    stub.add_response("update_nodegroup_config", {"update": {"id": "u1", "status": "InProgress"}},
                      {**ng, "scalingConfig": {"minSize": 5, "desiredSize": 5, "maxSize": 8}})
    kube.desired = lambda: 5
    with stub:
        activator(pilot_outputs(), eks, kube, primary).activate()
    stub.assert_no_pending_responses()


# --------------------------------------------------------------------------- restore


def test_restore_puts_the_pilot_light_back(standby_world):
    eks, kube, primary = standby_world
    act = activator(pilot_outputs(), eks, kube, primary)
    act.activate()
    done = act.restore()
    assert kube.replicas == 0 and (kube.hpa_min, kube.hpa_max) == (2, 8)
    assert eks.scaling == {"minSize": 0, "desiredSize": 0, "maxSize": 8}
    assert "Deployment tf-serving: 0 replicas (pilot light)" in done


def test_restore_drains_for_the_ttl_before_scaling_down(standby_world):
    """Resolvers may answer the standby for up to the TTL after the switch back: keep it serving that long."""
    eks, kube, primary = standby_world
    clock = FakeClock()
    act = activator(pilot_outputs(), eks, kube, primary, clock=clock, drain_seconds=30)
    act.activate()
    writes_before, at = len(kube.writes()), clock.now

    def sleep(seconds):
        assert len(kube.writes()) == writes_before  # nothing scaled down while draining
        clock.sleep(seconds)

    act.sleep = sleep
    act.restore()
    assert clock.now - at == 30 and kube.replicas == 0
    clock.now = at = 0
    act.restore(drain=False)
    assert clock.now == 0


def test_restore_of_a_warm_standby_leaves_desired_to_the_autoscaler(standby_world):
    eks, kube, primary = standby_world
    doc = copy.deepcopy(pilot_outputs().raw)
    doc["standbyMode"] = "warm"
    doc["regions"]["standby"]["gpuScaling"] = {"minSize": 2, "desiredSize": 2, "maxSize": 8}
    doc["regions"]["standby"]["serving"] = {"replicas": 2, "minReplicas": 2, "maxReplicas": 8}
    eks.scaling = {"minSize": 2, "desiredSize": 2, "maxSize": 8}
    kube.replicas, kube.nodes = 2, 2
    act = activator(parse_outputs(doc), eks, kube, primary)
    act.activate()
    assert eks.scaling == {"minSize": 5, "desiredSize": 5, "maxSize": 8}
    act.restore()
    assert eks.scaling == {"minSize": 2, "desiredSize": 5, "maxSize": 8}
    assert kube.hpa_min == 2 and kube.replicas == 5  # the HPA scales down on its own schedule


# --------------------------------------------------------------------------- KEDA ScaledObject


@pytest.fixture
def keda_world():
    eks = FakeEks({"minSize": 0, "desiredSize": 0, "maxSize": 8})
    kube = FakeKube(node_group="gpu-standby", replicas=0, hpa_min=0, hpa_max=8, desired=lambda: eks.scaling["desiredSize"],
                    join_polls=1, scaled_object="tf-serving", paused_scale_in=True)
    primary = FakeKube(node_group="gpu-primary", replicas=5, hpa_min=2, hpa_max=8, ready_nodes=5, desired=lambda: 5)
    yield eks, kube, primary
    kube.stop()
    primary.stop()


def test_activation_raises_the_scaled_object_never_the_hpa_keda_owns(keda_world):
    eks, kube, primary = keda_world
    act = activator(pilot_outputs(scaledObjectName="tf-serving"), eks, kube, primary)
    sizing = act.activate()
    assert sizing.replicas == 5 and kube.replicas == 5 and (kube.hpa_min, kube.hpa_max) == (5, 8)
    paths = [path for path, _ in kube.writes()]
    assert paths[0].endswith("/scaledobjects/tf-serving") and not any("horizontalpodautoscalers" in p for p in paths)
    assert "ScaledObject tf-serving: min 5 max 8" in act.changes


def test_restore_puts_a_pilot_light_scaled_object_back_to_zero(keda_world):
    eks, kube, primary = keda_world
    act = activator(pilot_outputs(scaledObjectName="tf-serving"), eks, kube, primary)
    act.activate()
    done = act.restore()
    assert (kube.hpa_min, kube.replicas) == (0, 0)
    assert done[:2] == ["ScaledObject tf-serving: min 0 max 8", "Deployment tf-serving: 0 replicas (pilot light)"]


def test_restore_scales_a_warm_standby_down_itself_because_its_scale_in_is_paused(keda_world):
    eks, kube, primary = keda_world
    doc = copy.deepcopy(pilot_outputs(scaledObjectName="tf-serving").raw)
    doc["standbyMode"] = "warm"
    doc["regions"]["standby"]["gpuScaling"] = {"minSize": 2, "desiredSize": 2, "maxSize": 8}
    doc["regions"]["standby"]["serving"] = {"replicas": 2, "minReplicas": 2, "maxReplicas": 8}
    eks.scaling = {"minSize": 2, "desiredSize": 2, "maxSize": 8}
    kube.replicas, kube.nodes, kube.hpa_min = 2, 2, 2
    act = activator(parse_outputs(doc), eks, kube, primary)
    act.activate()
    assert kube.replicas == 5
    done = act.restore()
    assert (kube.hpa_min, kube.replicas) == (2, 2)
    assert "Deployment tf-serving: 2 replicas (warm standby at rest)" in done


# --------------------------------------------------------------------------- `recsys-dr failover`, end to end


def with_activation_outputs(outputs: dict) -> dict:
    """The keys /tmp/ops-outputs-needed.md asked the stacks for, as a pilot-light prod would export them."""
    doc = copy.deepcopy(outputs)
    for role, replicas in (("primary", 1), ("standby", 0 if doc["standbyMode"] == "pilot-light" else 1)):
        doc["regions"][role].update({"hpaName": "tf-serving", "podsPerGpuNode": 1,
                                     "activeGpuScaling": {"minSize": 1, "desiredSize": 1, "maxSize": 4},
                                     "serving": {"replicas": replicas, "minReplicas": 1, "maxReplicas": 4}})
    return doc


@pytest.fixture
def pilot_arc_env(aws, tmp_path):
    from tests.operations.ops_fixtures import Environment

    environment = Environment(tmp_path, standby_mode="pilot-light", failover_control="arc")
    yield environment
    environment.stop()


def test_cli_failover_activates_the_pilot_light_before_moving_traffic_and_restores_after(
        pilot_arc_env, tmp_path, capsys):
    import argparse
    import json

    from recsys_dr.operations import cli as ops_cli
    from tests.operations.ops_fixtures import FakeArcCluster, Route53Status, client, client_factory

    env = pilot_arc_env
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(with_activation_outputs(env.outputs)))
    eks = client("eks", "us-west-2")

    def desired():
        return eks.describe_nodegroup(clusterName="recsys-standby", nodegroupName="gpu-standby")[
            "nodegroup"]["scalingConfig"]["desiredSize"]

    standby = FakeKube(node_group="gpu-standby", replicas=0, hpa_min=1, hpa_max=4, desired=desired, join_polls=2)
    primary = FakeKube(node_group="gpu-primary", replicas=3, hpa_min=1, hpa_max=4, ready_nodes=3,
                       desired=lambda: 3)
    fakes = {"recsys-standby": standby, "recsys-primary": primary}
    at_flip = []

    class Cluster(FakeArcCluster):
        def update_routing_control_states(self, **kwargs):
            at_flip.append((standby.replicas, standby.nodes, desired()))
            return super().update_routing_control_states(**kwargs)

    cluster = Cluster()
    factory = client_factory()
    factory.set_client("route53", "us-east-1", Route53Status(factory.route53()))
    factory.arc_cluster = lambda region, url: cluster
    factory.kube = lambda region, name: kube_api(fakes[name])

    def failover(*argv):
        parser = argparse.ArgumentParser(prog="recsys-dr")
        ops_cli.register(parser.add_subparsers(dest="command"))
        args = parser.parse_args(["failover", "--outputs", str(path), "--json", "--http-timeout", "2",
                                  "--poll-interval", "0.01", "--drain-seconds", "0", *argv])
        code = ops_cli.handle_failover(args, clients=factory)
        return code, json.loads(capsys.readouterr().out)

    try:
        code, doc = failover("--to", "standby")
        assert code == 0 and doc["outcome"] == "switched", doc["messages"]
        assert at_flip == [(3, 3, 3)]  # three pods on three Ready nodes before the routing controls moved
        assert [p["phase"] for p in doc["activation"]["phases"]] == PHASES
        assert cluster.role_states() == {"primary": "Off", "standby": "On"}

        code, doc = failover("--to", "primary")
        assert code == 0, doc["messages"]
        assert at_flip[-1] == (3, 3, 3)  # still activated when traffic left it
        assert standby.replicas == 0 and (standby.hpa_min, standby.hpa_max) == (1, 4)
        assert eks.describe_nodegroup(clusterName="recsys-standby", nodegroupName="gpu-standby")[
            "nodegroup"]["scalingConfig"] == {"minSize": 0, "desiredSize": 0, "maxSize": 4}
        assert "standby back at rest" in " ".join(doc["messages"])
    finally:
        standby.stop()
        primary.stop()


def test_cli_failover_dry_run_sizes_without_changing_anything(pilot_arc_env, tmp_path, capsys):
    import argparse
    import json

    from recsys_dr.operations import cli as ops_cli
    from tests.operations.ops_fixtures import FakeArcCluster, Route53Status, client_factory

    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(with_activation_outputs(pilot_arc_env.outputs)))
    standby = FakeKube(node_group="gpu-standby", hpa_min=1, hpa_max=4)
    primary = FakeKube(node_group="gpu-primary", replicas=2, hpa_max=4)
    fakes = {"recsys-standby": standby, "recsys-primary": primary}
    factory = client_factory()
    factory.set_client("route53", "us-east-1", Route53Status(factory.route53()))
    cluster = FakeArcCluster()
    factory.arc_cluster = lambda region, url: cluster
    factory.kube = lambda region, name: kube_api(fakes[name])
    parser = argparse.ArgumentParser(prog="recsys-dr")
    ops_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["failover", "--to", "standby", "--dry-run", "--outputs", str(path), "--json",
                              "--http-timeout", "2"])
    try:
        assert ops_cli.handle_failover(args, clients=factory) == 0
        doc = json.loads(capsys.readouterr().out)
    finally:
        standby.stop()
        primary.stop()
    assert doc["outcome"] == "dry-run"
    assert doc["activation"]["nodeGroup"] == {"minSize": 2, "desiredSize": 2, "maxSize": 4}
    assert standby.writes() == [] and cluster.role_states() == {"primary": "On", "standby": "Off"}


def test_cli_drill_on_a_pilot_light_times_every_phase_beside_its_budget(pilot_arc_env, tmp_path, capsys):
    """Pilot-light drill: activate (nodes, pods, health check), switch, DNS, fail back, restore."""
    import argparse
    import json

    from recsys_dr.operations import cli as ops_cli
    from tests.operations.ops_fixtures import FakeArcCluster, Route53Status, client, client_factory

    env = pilot_arc_env
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(with_activation_outputs(env.outputs)))
    eks = client("eks", "us-west-2")

    def desired():
        return eks.describe_nodegroup(clusterName="recsys-standby", nodegroupName="gpu-standby")[
            "nodegroup"]["scalingConfig"]["desiredSize"]

    standby = FakeKube(node_group="gpu-standby", hpa_min=1, hpa_max=4, desired=desired, join_polls=1)
    primary = FakeKube(node_group="gpu-primary", replicas=2, hpa_max=4, ready_nodes=2, desired=lambda: 2)
    fakes = {"recsys-standby": standby, "recsys-primary": primary}
    cluster = FakeArcCluster()
    factory = client_factory()
    route53 = Route53Status(factory.route53())
    route53.answer = lambda: [env.hosts["standby" if cluster.role_states()["standby"] == "On" else "primary"]]
    factory.set_client("route53", "us-east-1", route53)
    factory.arc_cluster = lambda region, url: cluster
    factory.kube = lambda region, name: kube_api(fakes[name])
    parser = argparse.ArgumentParser(prog="recsys-dr")
    ops_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["drill", "--outputs", str(path), "--confirm", "prod", "--json", "--timeout", "3",
                              "--failback-timeout", "3", "--poll-interval", "0.02", "--http-timeout", "2",
                              "--activation-timeout", "5", "--drain-seconds", "0"])
    try:
        code = ops_cli.handle_drill(args, clients=factory)
        doc = json.loads(capsys.readouterr().out)
    finally:
        standby.stop()
        primary.stop()
    assert code == 0, doc["reasons"]
    phases = {p["phase"]: p for p in doc["phases"]}
    assert list(phases) == [*PHASES, "DNS answer"]
    assert all(p["ok"] and p["seconds"] is not None for p in phases.values())
    assert phases["health check healthy"]["budgetSeconds"] == 30  # 10 s x 3
    assert phases["DNS answer"]["budgetSeconds"] == 30  # budget 60 s minus TTL 30 s
    assert [s["step"] for s in doc["steps"]][-1] == "restore"
    assert standby.replicas == 0 and desired() == 0
    assert cluster.role_states() == {"primary": "On", "standby": "Off"}


def test_health_check_environment_activates_then_leaves_the_move_to_route53(pilot_env, tmp_path, capsys):
    """--to standby: activated, exit 3 with the manual steps. --to primary while Route 53 still answers
    the standby: nothing is scaled down (it is taking the traffic)."""
    import argparse
    import json

    from recsys_dr.operations import cli as ops_cli
    from tests.operations.ops_fixtures import Route53Status, client, client_factory

    env = pilot_env
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(with_activation_outputs(env.outputs)))
    eks = client("eks", "us-west-2")

    def desired():
        return eks.describe_nodegroup(clusterName="recsys-standby", nodegroupName="gpu-standby")[
            "nodegroup"]["scalingConfig"]["desiredSize"]

    standby = FakeKube(node_group="gpu-standby", hpa_min=1, hpa_max=4, desired=desired, join_polls=0)
    primary = FakeKube(node_group="gpu-primary", replicas=1, hpa_max=4, ready_nodes=1, desired=lambda: 1)
    fakes = {"recsys-standby": standby, "recsys-primary": primary}
    factory = client_factory()
    route53 = Route53Status(factory.route53())
    route53.answer = [env.hosts["primary"]]
    factory.set_client("route53", "us-east-1", route53)
    factory.kube = lambda region, name: kube_api(fakes[name])
    parser = argparse.ArgumentParser(prog="recsys-dr")
    ops_cli.register(parser.add_subparsers(dest="command"))

    def failover(to):
        args = parser.parse_args(["failover", "--to", to, "--outputs", str(path), "--json", "--http-timeout", "2",
                                  "--poll-interval", "0.01", "--drain-seconds", "0"])
        return ops_cli.handle_failover(args, clients=factory), json.loads(capsys.readouterr().out)

    try:
        code, doc = failover("standby")
        assert code == 3 and doc["outcome"] == "no-arc"
        assert "standby activated and ready" in doc["messages"][0]
        assert standby.replicas == 1 and desired() == 1

        route53.answer = [env.hosts["standby"]]  # the primary failed meanwhile: Route 53 answers the standby
        code, doc = failover("primary")
        assert code == 3 and doc["restored"] == []
        assert standby.replicas == 1 and desired() == 1
    finally:
        standby.stop()
        primary.stop()


def test_unreachable_standby_eks_is_an_activation_error_not_a_traceback(standby_world):
    from botocore.config import Config

    from tests.operations.ops_fixtures import closed_port

    _eks, kube, primary = standby_world
    eks = boto3.client("eks", region_name="us-west-2", endpoint_url=f"http://127.0.0.1:{closed_port()}",
                       config=Config(retries={"total_max_attempts": 1}, connect_timeout=1))
    act = activator(pilot_outputs(), eks, kube, primary)
    with pytest.raises(ActivationError, match="cannot read the standby's current sizes: EndpointConnectionError"):
        act.size()
    with pytest.raises(ActivationError, match="EndpointConnectionError"):
        act.activate()
    assert kube.writes() == []
