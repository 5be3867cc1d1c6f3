"""A candidate beside the stable pods: its own slot, weighted forward rules, and why Pulumi never resets a share.

The engine's ignoreChanges rule is modelled here from its source (pulumi
sdk/go/common/resource/properties_path.go, `PropertyPath.reset`, called by
pkg/resource/deploy/step_generator.go `processIgnoreChanges`) and checked against the rules the
program registers.
"""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest

from recsys_dr.components.serving import balancer
from recsys_dr.components.serving.manifests import LABEL_VALUE_MAX, slot_instance
from recsys_dr.policy.rules.balancer import check_forward_weights
from recsys_dr.stacks.settings import ConfigError
from tests.components.test_linters import kubernetes_manifest
from tests.support import render_stack, stack_config

CANDIDATE = {"version": 2, "manifestSha256": "b" * 64}
RULE = "aws:lb/listenerRule:ListenerRule"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def prod_with_candidate(**candidate):
    raw = stack_config("prod")
    model = {**json.loads(raw["recsys-dr:model"]), "candidate": {**CANDIDATE, **candidate}}
    gpu = {**json.loads(raw["recsys-dr:gpu"]), "maxSize": 11}  # maxReplicas 8 + minReplicas 2 + 1 surge
    return render_stack("prod", stack_config("prod", model=model, gpu=gpu))


@pytest.fixture(scope="module")
def with_candidate():
    return prod_with_candidate()


def by_name(run, kind):
    return {r.name: r for r in run.of_type(kind)}


# --- a model of the engine's ignoreChanges (PropertyPath.Reset) -------------------------------------

class PathError(Exception):
    """`cannot ignore changes to the following properties because one or more elements of the path are missing`."""


def _parse(path: str) -> list:
    parts = []
    for piece in path.replace("]", "").replace("[", ".").split("."):
        parts.append(int(piece) if piece.isdigit() else piece)
    return parts


def reset(old, new, path: list) -> None:
    """Put `old`'s values back into `new` at `path`, as PropertyPath.reset does: never adding or
    removing array elements, failing where one side lacks what the other has on the way down."""
    key, rest = path[0], path[1:]
    if isinstance(key, int):
        if not isinstance(old, list) or not isinstance(new, list) or key >= len(old) or key >= len(new):
            raise PathError(path)
        if not rest:
            new[key] = copy.deepcopy(old[key])
        else:
            reset(old[key], new[key], rest)
        return
    if key == "*":
        if isinstance(old, list) and isinstance(new, list):
            if len(old) != len(new):  # "arrays are of different length"
                raise PathError(path)
            for index in range(len(old)):
                reset(old, new, [index, *rest])
            return
        raise PathError(path)
    if not rest:
        if isinstance(old, dict) and key in old:
            new[key] = copy.deepcopy(old[key])
        elif isinstance(new, dict):
            new.pop(key, None)
        return
    if not isinstance(old, dict) or not isinstance(new, dict):
        if isinstance(old, dict) or isinstance(new, dict):
            raise PathError(path)
        return
    if key in old and key not in new:
        raise PathError(path)
    if key not in old and key not in new:
        return
    reset(old.get(key), new[key], rest)


def ignored(old_inputs: dict, new_inputs: dict, paths: list[str]) -> dict:
    result = copy.deepcopy(new_inputs)
    for path in paths:
        reset(old_inputs, result, _parse(path))
    return result


def test_the_model_of_reset_fails_where_the_engine_fails():
    weights = "actions[0].forward.targetGroups[*].weight"
    two = {"actions": [{"type": "forward", "forward": {"targetGroups": [{"arn": "a", "weight": 1}, {"arn": "b", "weight": 0}]}}]}
    three = copy.deepcopy(two)
    three["actions"][0]["forward"]["targetGroups"].append({"arn": "c", "weight": 0})
    single = {"actions": [{"type": "forward", "targetGroupArn": "a"}]}
    with pytest.raises(PathError):
        ignored(two, three, [weights])  # an element added under a wildcard
    with pytest.raises(PathError):
        ignored(single, two, [weights])  # `forward` exists in the new inputs only
    live = copy.deepcopy(two)
    live["actions"][0]["forward"]["targetGroups"][0]["weight"] = 75
    live["actions"][0]["forward"]["targetGroups"][1]["weight"] = 25
    assert ignored(live, two, [weights]) == live


# --- the forwarding rules ---------------------------------------------------------------------------

@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_route_forwards_to_the_stable_and_the_canary_group_all_to_stable(rendered_stacks, env):
    run = rendered_stacks[env]
    groups = {g.outputs["arn"]: g.name for g in run.of_type("aws:lb/targetGroup:TargetGroup")}
    routes = [r for r in run.of_type(RULE) if "-rule-" in r.name]
    assert len(routes) == 2 * 3 and not [r for r in run.of_type(RULE) if "-candidate-" in r.name]  # primary, standby, fallback
    for rule in routes:
        [action] = rule.inputs["actions"]
        pairs = [(groups[g["arn"]].rsplit("-", 1)[-1], g["weight"]) for g in action["forward"]["targetGroups"]]
        assert pairs == [("targets", 100), ("canary", 0)]
        assert check_forward_weights(RULE, rule.inputs) == []
        # Pulumi sets the weights on create only: a share `recsys-dr release` set survives `pulumi up`.
        assert rule.options["ignoreChanges"] == [balancer.WEIGHTS_OWNED_BY_RELEASE]


def test_a_pinned_candidate_changes_no_route_rule_so_pulumi_never_resets_a_share(rendered_stacks, with_candidate):
    """Entering or leaving a release leaves the two-group shape as it is: the engine's Reset never
    fails, and weights the release tool set (refreshed into the state) are what the new inputs carry."""
    before, after = by_name(rendered_stacks["prod"], RULE), by_name(with_candidate, RULE)
    for name, rule in before.items():
        live = copy.deepcopy(rule.inputs)
        live["actions"][0]["forward"]["targetGroups"][0]["weight"] = 95
        live["actions"][0]["forward"]["targetGroups"][1]["weight"] = 5
        for old, new in ((live, after[name].inputs), (after[name].inputs | live, rule.inputs)):
            assert ignored(old, new, after[name].options["ignoreChanges"]) == old


def test_the_routes_moved_to_new_priorities_so_the_new_action_shape_is_created_not_updated():
    """A rule of the single-target-group form cannot take the weights' ignore path (Reset fails on
    a `forward` key only the new inputs have): the weighted rules are new resources at new
    priorities, created before the old ones are deleted (ELB priorities are unique per listener)."""
    assert [r["priority"] for r in balancer.listener_rules("recommender")] == [110, 120]
    assert all(r["priority"] < 110 for r in balancer.candidate_rules("recommender", 2))


def test_candidate_rules_send_the_header_to_the_canary_group_before_any_route(with_candidate):
    groups = {g.outputs["arn"]: g.name for g in with_candidate.of_type("aws:lb/targetGroup:TargetGroup")}
    candidates = [r for r in with_candidate.of_type(RULE) if "-candidate-" in r.name]
    routes = [r for r in with_candidate.of_type(RULE) if "-rule-" in r.name]
    assert len(candidates) == 4
    assert max(r.inputs["priority"] for r in candidates) < min(r.inputs["priority"] for r in routes)
    for rule in candidates:
        [action] = rule.inputs["actions"]
        assert groups[action["targetGroupArn"]].endswith("-canary")
        header = next(c["httpHeader"] for c in rule.inputs["conditions"] if "httpHeader" in c)
        assert header == {"httpHeaderName": balancer.CANDIDATE_HEADER, "values": ["2"]}
        # ELB: a header name of at most 40 characters; at most 5 condition values per rule.
        assert len(balancer.CANDIDATE_HEADER) <= 40
        assert sum(len(next(iter(c.values())).get("values", [])) for c in rule.inputs["conditions"]) <= 5


def test_forward_weights_within_elbs_limits():
    def rule(*weights):
        return {"actions": [{"type": "forward", "forward": {"targetGroups": [{"arn": f"tg{i}", "weight": w}
                                                                             for i, w in enumerate(weights)]}}]}
    assert check_forward_weights(RULE, rule(95, 5)) == []
    assert "1 to 5 target groups" in check_forward_weights(RULE, rule(*[1] * 6))[0]
    assert "0 to 999" in check_forward_weights(RULE, rule(1000, 0))[0]
    assert "nowhere" in check_forward_weights(RULE, rule(0, 0))[0]
    with pytest.raises(ValueError, match="0 to 999"):
        balancer.weighted_forward("a", "b", (1000, 0))


# --- the candidate's slot ----------------------------------------------------------------------------

def test_the_stable_pods_are_untouched_by_a_candidate(rendered_stacks, with_candidate):
    before, after = by_name(rendered_stacks["prod"], DEPLOYMENT), by_name(with_candidate, DEPLOYMENT)
    for name, deployment in before.items():
        assert after[name].inputs == deployment.inputs
    assert len(after) == len(before) + 2


def test_the_candidate_runs_its_own_pin_through_the_verifying_init_container(with_candidate):
    candidates = [d for d in with_candidate.of_type(DEPLOYMENT) if d.name.endswith("-candidate-deployment")]
    assert len(candidates) == 2
    for deployment in candidates:
        template = deployment.inputs["spec"]["template"]
        env = {e["name"]: e["value"] for e in template["spec"]["initContainers"][0]["env"]}
        assert (env["MODEL_VERSION"], env["MANIFEST_SHA256"]) == ("2", "b" * 64)
        assert template["metadata"]["annotations"]["recsys-dr/manifest-sha256"] == "b" * 64
        assert deployment.inputs["metadata"]["name"] == "recommender-tf-serving-candidate"


def test_a_candidate_may_release_an_image():
    run = prod_with_candidate(version=1, manifestSha256="558081bec74fd277d04ac8895064fa2fede6f23cfd591156d380473c9eb7dc14",
                              image="tensorflow/serving:2.22.0-gpu")
    images = {d.name: d.inputs["spec"]["template"]["spec"]["containers"][0]["image"] for d in run.of_type(DEPLOYMENT)
              if "-fallback-" not in d.name}
    assert {i for n, i in images.items() if n.endswith("-candidate-deployment")} == {"tensorflow/serving:2.22.0-gpu"}
    assert {i for n, i in images.items() if not n.endswith("-candidate-deployment")} == {"tensorflow/serving:2.21.0-gpu"}


def selects(selector: dict, labels: dict) -> bool:
    """matchLabels: every pair present in the pod's labels, whatever else it carries (Kubernetes
    apimachinery labels.Selector; a Service's selector is the same map)."""
    return all(labels.get(k) == v for k, v in selector.items())


def test_no_selector_of_one_slot_picks_the_other_slots_pods(with_candidate):
    pods = {d.inputs["metadata"]["name"]: d.inputs["spec"]["template"]["metadata"]["labels"]
            for d in with_candidate.of_type(DEPLOYMENT) if "-primary-" in d.name}
    selectors = []
    for kind, read in (("kubernetes:apps/v1:Deployment", lambda r: r.inputs["spec"]["selector"]["matchLabels"]),
                       ("kubernetes:core/v1:Service", lambda r: r.inputs["spec"]["selector"]),
                       ("kubernetes:policy/v1:PodDisruptionBudget", lambda r: r.inputs["spec"]["selector"]["matchLabels"])):
        selectors += [(r.inputs["metadata"]["name"], read(r)) for r in with_candidate.of_type(kind) if "-primary-" in r.name]
    for owner, selector in selectors:
        assert [pod for pod, labels in pods.items() if selects(selector, labels)] == [owner], owner


def test_the_candidate_label_stays_a_valid_label_value():
    assert len(slot_instance("m" * 63, "candidate")) == LABEL_VALUE_MAX
    assert slot_instance("recommender", "stable") == "recommender"


def test_the_candidate_binds_scales_and_is_let_through_on_its_own_group(with_candidate):
    groups = {g.name: g for g in with_candidate.of_type("aws:lb/targetGroup:TargetGroup")}
    for role in ("primary", "standby"):
        canary = next(g for n, g in groups.items() if f"-{role}-" in n and n.endswith("-canary"))
        [binding] = [b for b in with_candidate.of_type("kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding")
                     if f"-{role}-" in b.name and "-candidate-" in b.name]
        assert binding.inputs["spec"]["targetGroupARN"] == canary.outputs["arn"]
        assert binding.inputs["spec"]["serviceRef"]["name"] == "recommender-tf-serving-candidate"
        [scaled] = [s for s in with_candidate.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")
                    if f"-{role}-" in s.name and "-candidate-" in s.name]
        for trigger in scaled.inputs["spec"]["triggers"]:
            assert trigger["metadata"]["dimensionValue"].endswith(canary.outputs["arnSuffix"])
        assert scaled.inputs["spec"]["scaleTargetRef"]["name"] == "recommender-tf-serving-candidate"
    policies = [p for p in with_candidate.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") if "-candidate-" in p.name]
    assert {json.dumps(p.inputs["spec"]["podSelector"], sort_keys=True) for p in policies} == {
        json.dumps({"matchLabels": {"app.kubernetes.io/instance": "recommender-candidate", "app.kubernetes.io/name": "tf-serving"}})}


def test_without_a_candidate_the_canary_group_holds_the_stable_pods(rendered_stacks, with_candidate):
    # Route 53 counts a balancer unhealthy while one of its target groups has no registered targets
    # (Route 53 API reference, AliasTarget.EvaluateTargetHealth): for records that evaluate target
    # health the canary group is never left empty.
    for run, service in ((rendered_stacks["prod"], "recommender-tf-serving"),
                         (with_candidate, "recommender-tf-serving-candidate")):
        groups = {g.outputs["arn"]: g.name for g in run.of_type("aws:lb/targetGroup:TargetGroup")}
        bound = {(groups[b.inputs["spec"]["targetGroupARN"]].rsplit("-", 1)[-1], b.inputs["spec"]["serviceRef"]["name"])
                 for b in run.of_type("kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding") if "-fallback-" not in b.name}
        assert bound == {("targets", "recommender-tf-serving"), ("canary", service)}, bound


def test_the_candidates_kubernetes_objects_match_the_clusters_api_schema(with_candidate):
    custom = ("kubernetes:helm.sh/", "kubernetes:elbv2.k8s.aws/", "kubernetes:keda.sh/")
    objects = [r for r in with_candidate.resources if r.type.startswith("kubernetes:") and "-candidate-" in r.name
               and not r.type.startswith(custom)]
    assert len(objects) == 2 * 4  # Deployment, Service, PDB, NetworkPolicy per region
    for resource in objects:
        kubernetes_validate.validate(kubernetes_manifest(resource), "1.35", strict=True)


def test_the_outputs_name_the_pins_the_groups_and_the_rules(with_candidate):
    primary = with_candidate.outputs["regions"]["primary"]
    assert primary["model"]["candidate"] == {**CANDIDATE, "image": "tensorflow/serving:2.21.0-gpu"}
    assert primary["model"]["version"] == 1 and primary["candidateDeploymentName"] == "recommender-tf-serving-candidate"
    door = primary["frontDoor"]
    assert len(door["ruleArns"]) == 2 and door["canaryTargetGroupArn"] != door["targetGroupArn"]
    assert door["candidateHeader"] == balancer.CANDIDATE_HEADER
    assert with_candidate.outputs["release"]["canaryPercents"] == [5, 25, 50, 100]


def test_a_fallback_candidate_runs_beside_the_fallback_in_its_namespace():
    fallback = {**json.loads(stack_config("prod")["recsys-dr:fallback"]), "maxSize": 6,
                "candidate": {"version": 2, "manifestSha256": "c" * 64}}
    run = render_stack("prod", stack_config("prod", fallback=fallback))
    [deployment] = [d for d in run.of_type(DEPLOYMENT) if "-fallback-" in d.name and d.name.endswith("-candidate-deployment")]
    assert deployment.inputs["metadata"]["namespace"] == "recsys-fallback"
    init_env = {e["name"]: e["value"] for e in deployment.inputs["spec"]["template"]["spec"]["initContainers"][0]["env"]}
    assert (init_env["MODEL_VERSION"], init_env["MANIFEST_SHA256"]) == ("2", "c" * 64)
    model = run.outputs["fallback"]["model"]
    assert deployment.inputs["spec"]["template"]["spec"]["containers"][0]["image"] == model["image"]  # the CPU build
    assert model["candidate"] == {"version": 2, "manifestSha256": "c" * 64, "image": model["image"]}
    assert run.outputs["fallback"]["frontDoor"]["candidateHeader"] == balancer.CANDIDATE_HEADER


def test_a_fallback_candidate_needs_room_in_the_fallback_pool():
    fallback = {**json.loads(stack_config("prod")["recsys-dr:fallback"]), "maxSize": 2,
                "candidate": {"version": 2, "manifestSha256": "c" * 64}}
    with pytest.raises(ConfigError, match=r"`recsys-dr:fallback.candidate` needs a fallback pool that holds \d+ pods"):
        render_stack("prod", stack_config("prod", fallback=fallback))
