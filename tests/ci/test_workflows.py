"""The pull-request workflows are not a way in (.github/workflows/).

- zizmor, offline and without a config file, reports no high finding, and with the auditor
  persona no finding at all (secrets-outside-env among them); the same harness does report a
  tag-pinned action and a secret outside an environment, so the checks can fail;
- every job that holds deploy credentials runs in a GitHub environment, after the gate that
  lets only environments with required reviewers through (.github/scripts/preview-gate.js);
- every action is pinned by full commit SHA with its tag in a comment beside it;
- the only zizmor suppression is the reviewed one (the fork-comment workflow_run trigger);
- every `recsys-dr` command the workflows run parses with the CLI of this commit.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from recsys_dr.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ZIZMOR = Path(sys.executable).with_name("zizmor")
FULL_SHA_WITH_TAG = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+(\.\d+){0,2}$")
# (file, audit) of every `# zizmor: ignore[...]`, each justified in a comment beside it.
REVIEWED_IGNORES = {("pr-plan-comment.yml", "dangerous-triggers")}


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def zizmor(path: Path, persona: str = "regular") -> list[dict]:
    # --offline: no GitHub API (no network here, and none needed for these audits);
    # --no-config: a zizmor.yml added later cannot switch audits off unnoticed;
    # --persona=auditor adds the audits the default hides, secrets-outside-env among them
    # (docs.zizmor.sh/audits/#secrets-outside-env: auditor-only since zizmor 1.24).
    done = subprocess.run([str(ZIZMOR), "--offline", "--no-config", f"--persona={persona}", "--format", "json",
                           str(path)], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout)


def high(findings: list[dict]) -> list[str]:
    return [f"{f['ident']}: {f['locations'][0]['concrete']['feature'].strip()}" for f in findings
            if f["determinations"]["severity"] == "High" and not f.get("ignored")]


def test_zizmor_reports_no_high_finding():
    assert high(zizmor(WORKFLOWS)) == []


def findings(found: list[dict]) -> list[str]:
    return [f"{f['ident']}: {f['locations'][-1]['concrete']['feature'].strip()}" for f in found if not f.get("ignored")]


def test_zizmor_auditor_persona_reports_no_finding():
    assert findings(zizmor(WORKFLOWS, persona="auditor")) == []


def test_zizmor_harness_reports_a_secret_outside_an_environment(tmp_path):
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "bad.yml").write_text(
        "name: bad\non: pull_request\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    permissions: {}\n    steps:\n      - run: ./deploy.sh\n        env:\n"
        "          TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}\n")
    def secret_findings(persona: str) -> list[str]:
        return [f for f in findings(zizmor(folder, persona=persona)) if f.startswith("secrets-outside-env")]

    assert secret_findings("regular") == []  # the default persona hides it
    assert secret_findings("auditor") == ["secrets-outside-env: secrets.PULUMI_ACCESS_TOKEN"]


def test_zizmor_harness_reports_a_tag_pinned_action(tmp_path):
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "bad.yml").write_text(
        "name: bad\non: pull_request\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n        with:\n          persist-credentials: false\n")
    assert [f.split(":")[0] for f in high(zizmor(folder))] == ["unpinned-uses"]


def uses_lines() -> list[tuple[str, str]]:
    return [(path.name, line.split("uses:", 1)[1].strip())
            for path in workflow_files() for line in path.read_text().splitlines()
            if re.match(r"^\s*(- )?uses:", line)]


def test_every_action_is_pinned_by_full_sha_with_its_tag_in_a_comment():
    lines = uses_lines()
    assert len(lines) == 28  # every `uses:` line was found (3 workflows)
    assert [(name, ref) for name, ref in lines if not FULL_SHA_WITH_TAG.match(ref)] == []


def test_one_action_version_is_pinned_to_one_sha():
    seen: dict[str, set[str]] = {}
    for _, ref in uses_lines():
        action, rest = ref.split("@", 1)
        seen.setdefault(action, set()).add(rest)
    assert {action: refs for action, refs in seen.items() if len(refs) > 1} == {}


def test_only_the_reviewed_zizmor_ignores():
    found = {(path.name, audit) for path in workflow_files()
             for audit in re.findall(r"#\s*zizmor:\s*ignore\[([\w-]+)\]", path.read_text())}
    assert found == REVIEWED_IGNORES


def test_workflow_defaults_grant_no_permissions():
    for path in workflow_files():
        document = yaml.safe_load(path.read_text())
        assert document["permissions"] == {}, path.name
        for name, job in document["jobs"].items():
            assert "permissions" in job, f"{path.name}: job {name} must state its own permissions"


def test_every_checkout_drops_its_credentials():
    for path in workflow_files():
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step.get("with", {}).get("persist-credentials") is False, f"{path.name}: {step}"


COMMAND = re.compile(r"(?:^|&&|;)\s*\S*bin/recsys-dr\s+(.*)$")


def recsys_dr_commands() -> list[list[str]]:
    """Every `recsys-dr` command line of the workflows' run steps (a command, or one after `&&`)."""
    commands = []
    for path in workflow_files():
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                script = str(step.get("run", "")).replace("\\\n", " ")
                for line in script.splitlines():
                    found = COMMAND.search(line)
                    if found:
                        commands.append(shlex.split(re.split(r"\|\||2>|&&", found.group(1))[0]))
    return commands


def test_workflow_cli_commands_parse_with_this_cli():
    commands = recsys_dr_commands() + plan_diff_commands()
    assert sorted(c[0] for c in commands) == ["check", "diff", "plan", "plan", "plan"]
    for words in commands:
        args = build_parser().parse_args(words)
        if args.command == "diff":
            assert args.format == "markdown"


def plan_diff_commands() -> list[list[str]]:
    """The `recsys-dr` commands of .github/scripts/plan-diff.sh, its variables given plausible values."""
    values = {"$recsys_dr": "recsys-dr", "$title": "recsys-dr plan (dev)", "$verdict": "0"}
    commands = []
    for line in PLAN_DIFF.read_text().replace("\\\n", " ").splitlines():
        if line.lstrip().startswith('"$recsys_dr"'):
            words = shlex.split(line.split("||")[0])
            commands.append([values.get(w, w.replace("$out", "out").replace("$head_dir", "head")) for w in words[1:]])
    return commands


PLAN_COMMENT = ROOT / ".github" / "scripts" / "plan-comment.js"
PLAN_DIFF = ROOT / ".github" / "scripts" / "plan-diff.sh"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node (the github-script runtime) is not installed")


def validate(directory: Path, env: str = "dev") -> tuple[bool, str]:
    """(accepted, body or refusal) from plan-comment.js's validateArtifact, run by node."""
    program = ("const p = require(process.argv[1]);"
               "try { process.stdout.write(JSON.stringify([true, p.validateArtifact(process.argv[2], process.argv[3])])); }"
               "catch (e) { process.stdout.write(JSON.stringify([false, e.message])); }")
    done = subprocess.run([NODE, "-e", program, str(PLAN_COMMENT), str(directory), env],
                          capture_output=True, text=True, timeout=30, check=True)
    return tuple(json.loads(done.stdout))


def artifact(tmp_path: Path, body: str | bytes, **extra: str) -> Path:
    data = body.encode() if isinstance(body, str) else body
    (tmp_path / "diff.md").write_bytes(data)
    for name, text in extra.items():
        (tmp_path / name).write_text(text)
    return tmp_path


MARKER = "<!-- recsys-dr-plan-diff:dev -->"


@needs_node
def test_comment_accepts_a_plan_diff(tmp_path):
    body = f"{MARKER}\n### recsys-dr plan (dev)\n\n**update** `Deployment`\n"
    assert validate(artifact(tmp_path, body, **{"plan-base.json": "{}", "plan-head.json": "{}"})) == (True, body)


@needs_node
def test_comment_refuses_another_environments_marker(tmp_path):
    ok, reason = validate(artifact(tmp_path, "<!-- recsys-dr-plan-diff:prod -->\nx\n"))
    assert (ok, reason) == (False, f"diff.md does not start with the marker line {MARKER}")


@needs_node
def test_comment_refuses_a_second_marker(tmp_path):
    assert validate(artifact(tmp_path, f"{MARKER}\nx\n<!-- recsys-dr-plan-diff:prod -->\n")) == (
        False, "diff.md carries a second comment marker")


@needs_node
def test_comment_refuses_unexpected_files(tmp_path):
    ok, reason = validate(artifact(tmp_path, f"{MARKER}\n", **{"evil.js": "x"}))
    assert not ok and reason.startswith('unexpected artifact entry "evil.js"')


@needs_node
def test_comment_refuses_text_that_is_not_utf8(tmp_path):
    assert validate(artifact(tmp_path, MARKER.encode() + b"\n\xff\xfe\n")) == (False, "diff.md is not UTF-8 text")


@needs_node
def test_comment_refuses_control_characters(tmp_path):
    assert validate(artifact(tmp_path, f"{MARKER}\n\x1b[2Jx\n")) == (False, "diff.md contains control characters")


@needs_node
def test_comment_defuses_mentions_and_cross_references(tmp_path):
    ok, body = validate(artifact(tmp_path, f"{MARKER}\n@octocat @org/team #12 other/repo#3 &#60;\n"))
    assert ok
    assert body == f"{MARKER}\n@\u200doctocat @\u200dorg/team #\u200d12 other/repo#\u200d3 &#60;\n"


@needs_node
def test_comment_is_capped_below_githubs_limit(tmp_path):
    ok, body = validate(artifact(tmp_path, f"{MARKER}\n" + "x" * 70000))
    assert ok and len(body) < 65536 and body.endswith("_(truncated)_\n")


@needs_node
def test_comment_refuses_an_environment_name_that_is_not_one(tmp_path):
    ok, reason = validate(artifact(tmp_path, f"{MARKER}\n"), env="dev --> <script>")
    assert not ok and "is not [a-z][a-z0-9-]*" in reason


@needs_node
def test_comment_accepts_what_recsys_dr_diff_writes(tmp_path):
    """The workflow's own producer and validator agree (marker line, UTF-8, no control characters)."""
    empty = tmp_path / "plan-base.json"
    empty.write_text(json.dumps({"environment": "dev", "resources": [], "outputs": {}}))
    (tmp_path / "plan-head.json").write_text(empty.read_text())
    args = build_parser().parse_args(["diff", str(empty), str(tmp_path / "plan-head.json"), "--format", "markdown",
                                      "--title", "recsys-dr plan (dev)", "--out", str(tmp_path / "diff.md")])
    assert args.handler(args) == 0
    ok, body = validate(tmp_path)
    assert ok, body
    assert body == (tmp_path / "diff.md").read_text()


DEPLOY_SECRET = re.compile(r"secrets\.(?!GITHUB_TOKEN\b)\w+")
PREVIEW_GATE = ROOT / ".github" / "scripts" / "preview-gate.js"


def holds_deploy_credentials(job: dict) -> bool:
    """A job that reads a secret other than GITHUB_TOKEN or may mint a cloud OIDC token."""
    return bool(DEPLOY_SECRET.search(yaml.safe_dump(job))) or job.get("permissions", {}).get("id-token") == "write"


def test_only_the_preview_job_holds_deploy_credentials():
    holders = [(path.name, name) for path in workflow_files()
               for name, job in yaml.safe_load(path.read_text())["jobs"].items() if holds_deploy_credentials(job)]
    assert holders == [("preview.yml", "preview")]


def test_the_preview_job_waits_for_its_environment_after_the_gate():
    jobs = yaml.safe_load((WORKFLOWS / "preview.yml").read_text())["jobs"]
    preview, gate = jobs["preview"], jobs["gate"]
    # GitHub holds a job that references an environment, and its secrets, until the environment's
    # protection rules pass (docs.github.com/en/actions/concepts/workflows-and-actions/deployment-environments).
    assert preview["environment"] == "preview-${{ matrix.env }}"
    assert preview["needs"] == "gate"
    assert preview["strategy"]["matrix"]["env"] == "${{ fromJSON(needs.gate.outputs.stacks) }}"
    # The gate runs no pull-request code and holds no secret: it checks out the base commit's script.
    assert not holds_deploy_credentials(gate)
    checkout, script = gate["steps"]
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert "trusted/.github/scripts/preview-gate.js" in script["with"]["script"]
    assert "gate.approvedStacks(" in script["with"]["script"]


def gate(call: str) -> object:
    """Runs `call` (an expression over `gate`, the loaded preview-gate.js) under node; its awaited JSON value."""
    program = ("const gate = require(process.argv[1]);"
               "const notes = []; const core = { notice: m => notes.push(m), warning: m => notes.push(m) };"
               "function github(environments) { return { rest: { repos: { getEnvironment: async ({ environment_name }) => {"
               "  if (!(environment_name in environments)) { const e = new Error('Not Found'); e.status = 404; throw e; }"
               "  return { data: { name: environment_name, ...environments[environment_name] } }; } } } }; }"
               f"(async () => {{ try {{ process.stdout.write(JSON.stringify([true, await ({call}), notes])); }}"
               "catch (e) { process.stdout.write(JSON.stringify([false, e.message, notes])); } })();")
    done = subprocess.run([NODE, "-e", program, str(PREVIEW_GATE)], capture_output=True, text=True, timeout=30,
                          check=True)
    return json.loads(done.stdout)


REVIEWED = {"protection_rules": [{"type": "required_reviewers", "prevent_self_review": True,
                                  "reviewers": [{"type": "Team", "reviewer": {"slug": "platform"}}]}]}


@needs_node
def test_gate_refuses_an_environment_without_required_reviewers():
    # GitHub creates a referenced environment that does not exist, with no protection rules.
    ok, reason, _ = gate("gate.approvedStacks({ github: github({ 'preview-dev': { protection_rules: [] } }), core,"
                         " owner: 'o', repo: 'r', stacks: ['dev'] })")
    assert (ok, reason) == (False, "environment preview-dev has no required reviewers: "
                                   "a pull request's code would run with its secrets unapproved")


@needs_node
def test_gate_refuses_a_wait_timer_as_the_only_rule():
    environment = {"protection_rules": [{"type": "wait_timer", "wait_timer": 30}]}
    ok, reason, _ = gate(f"gate.approvedStacks({{ github: github({{ 'preview-prod': {json.dumps(environment)} }}), core,"
                         " owner: 'o', repo: 'r', stacks: ['prod'] })")
    assert not ok and reason.startswith("environment preview-prod has no required reviewers")


@needs_node
def test_gate_lets_reviewed_environments_through_and_skips_missing_ones():
    ok, stacks, notes = gate(f"gate.approvedStacks({{ github: github({{ 'preview-prod': {json.dumps(REVIEWED)} }}), core,"
                             " owner: 'o', repo: 'r', stacks: ['dev', 'prod'] })")
    assert (ok, stacks) == (True, ["prod"])
    assert notes == ["no environment preview-dev: skipping the dev preview (the offline plan still runs)"]


@needs_node
def test_gate_environment_names_match_the_preview_job():
    ok, name, _ = gate("gate.environmentName('prod')")
    job = yaml.safe_load((WORKFLOWS / "preview.yml").read_text())["jobs"]["preview"]
    assert ok and name == job["environment"].replace("${{ matrix.env }}", "prod")


# --- item: the plan comment cannot be forged by the pull request (pr-plan.yml, pr-plan-comment.yml)

HEAD_SHA = "${{ github.event.pull_request.head.sha }}"


def jobs_of(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())["jobs"]


def checkouts(job: dict) -> list[dict]:
    return [step.get("with", {}) for step in job.get("steps", [])
            if str(step.get("uses", "")).startswith("actions/checkout@")]


def runs_pull_request_code(job: dict) -> bool:
    """Checks out the head commit, or the default ref of a pull_request run (the merge commit)."""
    return any(w.get("ref") == HEAD_SHA or ("ref" not in w and "sparse-checkout" not in w) for w in checkouts(job))


def test_pull_request_code_runs_apart_from_base_results_and_the_posting_token():
    for workflow in ("pr-plan.yml", "pr-plan-comment.yml"):
        for name, job in jobs_of(workflow).items():
            downloads = [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith("actions/download-artifact@")]
            if runs_pull_request_code(job):
                assert (workflow, name) == ("pr-plan.yml", "head")
                assert job["permissions"] == {"contents": "read"} and downloads == [], (workflow, name)
            if job["permissions"].get("pull-requests") == "write":
                # The poster runs no command, only the trusted script, and checks out only that script.
                assert not any("run" in step for step in job["steps"]), (workflow, name)
                assert [w.get("sparse-checkout") for w in checkouts(job)] == [".github/scripts"], (workflow, name)


def test_the_diff_runs_the_base_commits_code_on_the_head_plan_as_data():
    for workflow, base_ref in (("pr-plan.yml", "${{ github.event.pull_request.base.sha }}"),
                               ("pr-plan-comment.yml", "${{ needs.find.outputs.base }}")):
        diff = jobs_of(workflow)["diff"]
        assert [w["ref"] for w in checkouts(diff)] == [base_ref]
        scripts = "\n".join(str(step.get("run", "")) for step in diff["steps"])
        assert "bash base/.github/scripts/plan-diff.sh" in scripts and "base/.venv/bin/recsys-dr" in scripts
        names = [step["with"]["name"] for step in diff["steps"] if str(step.get("uses", "")).startswith(
            "actions/download-artifact@")]
        # The fork's run is the fork's to rewrite: of it only the head plan is read, never its diff or base plan.
        expected = ["plan-head-${{ matrix.env }}"] + (["plan-base-${{ matrix.env }}"] if workflow == "pr-plan.yml" else [])
        assert names == expected


def test_no_workflow_restores_a_pip_cache():
    # A job running pull-request code can write a cache that a later trusted job restores.
    for path in workflow_files():
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("actions/setup-python@"):
                    assert "cache" not in step.get("with", {}), path.name


@pytest.fixture(scope="module")
def fixture_plans(tmp_path_factory) -> Path:
    """base.json: the fixture stack; head/plan-head.json: the insecure one, as a head job uploads it."""
    from tests.review.conftest import FIXTURE_CONFIG, FIXTURE_PROGRAM

    folder = tmp_path_factory.mktemp("plans")
    (folder / "head").mkdir()
    config = folder / "head-config"
    config.mkdir()
    (config / "Pulumi.fixture.yaml").write_text((FIXTURE_CONFIG / "Pulumi.insecure.yaml").read_text())
    parser = build_parser()
    for out, config_dir in ((folder / "base.json", FIXTURE_CONFIG), (folder / "head" / "plan-head.json", config)):
        args = parser.parse_args(["plan", "fixture", "--program-dir", str(FIXTURE_PROGRAM), "--config-dir",
                                  str(config_dir), "--out", str(out), "--quiet"])
        args.handler(args)
    (folder / "head" / "plan-head.err").write_text("")
    return folder


def plan_diff(folder: Path, head: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(PLAN_DIFF), "fixture", str(ZIZMOR.with_name("recsys-dr")), str(folder / "base.json"),
                           str(head), str(out)], capture_output=True, text=True, timeout=120)


def test_plan_diff_judges_a_forged_head_plan_with_the_base_rules(fixture_plans, tmp_path):
    head = tmp_path / "head"
    head.mkdir()
    document = json.loads((fixture_plans / "head" / "plan-head.json").read_text())
    document["policy"].update(violations=[], mandatoryViolations=0, advisoryViolations=0)  # "all clear"
    (head / "plan-head.json").write_text(json.dumps(document))
    (head / "plan-head.err").write_text("")
    done = plan_diff(fixture_plans, head, tmp_path / "out")
    assert done.returncode == 1, done.stderr
    diff = (tmp_path / "out" / "diff.md").read_text()
    assert "new: [mandatory] `eks-gpu-tainted` on primary-gpu" in diff
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["diff.md", "plan-base.json", "plan-head.json"]
    if NODE is not None:
        assert validate(tmp_path / "out", env="fixture")[0]


def test_plan_diff_passes_a_clean_head_plan(fixture_plans, tmp_path):
    head = tmp_path / "head"
    head.mkdir()
    (head / "plan-head.json").write_text((fixture_plans / "base.json").read_text())
    (head / "plan-head.err").write_text("")
    done = plan_diff(fixture_plans, head, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "No resource changes." in (tmp_path / "out" / "diff.md").read_text()


def test_plan_diff_reports_a_head_plan_that_did_not_render(fixture_plans, tmp_path):
    head = tmp_path / "head"
    head.mkdir()
    (head / "plan-head.err").write_bytes(b"recsys-dr: error: configuration of 'fixture' is invalid\x1b[2J\n```\n")
    done = plan_diff(fixture_plans, head, tmp_path / "out")
    assert done.returncode == 1
    diff = (tmp_path / "out" / "diff.md").read_text()
    assert diff.startswith("<!-- recsys-dr-plan-diff:fixture -->\n### recsys-dr plan (fixture): `fixture` could not be rendered")
    assert "configuration of 'fixture' is invalid[2J" in diff and diff.count("```") == 2
    if NODE is not None:
        assert validate(tmp_path / "out", env="fixture")[0]
