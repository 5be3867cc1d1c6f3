"""Every operator path ends in one line (or a report) and an exit code, never a traceback.

The known case: building the Kubernetes client from an EKS cluster's `certificateAuthority.data`
decoded the base64 as ASCII and crashed `failover --dry-run` (moto, like a corrupted outputs
copy, gives data that is not base64 PEM).
"""

from __future__ import annotations

import base64
import json

import pytest

from recsys_dr.cli.main import main
from recsys_dr.operations.kube import KubeApi, KubeError, ca_pem, connect
from recsys_dr.sandbox.kube import FakeKube
from recsys_dr.sandbox.tls import make_server_certificate
from tests.operations.ops_fixtures import closed_port, outputs_doc
from tests.operations.test_ops_activation import with_activation_outputs


def run(argv, capsys):
    """(exit code, stdout, stderr) of `recsys-dr <argv>`; no traceback may reach stderr."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    return code, captured.out, captured.err


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


# --------------------------------------------------------------------------- the cluster CA


@pytest.mark.parametrize("data, says", [
    ("not base64 at all: moto's random letters!", "is not base64"),
    (base64.b64encode(b"\xff\xfe\x00 binary, not text").decode(), "base64 but not a PEM certificate"),
    (base64.b64encode(b"-----BEGIN PRIVATE KEY-----\nabc\n").decode(), "base64 but not a PEM certificate"),
])
def test_cluster_ca_that_is_not_base64_pem_is_a_kube_error(data, says):
    with pytest.raises(KubeError, match=says):
        ca_pem(data, cluster="recsys-standby")


def test_cluster_ca_pem_that_ssl_cannot_load_is_a_kube_error():
    garbage = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    api = KubeApi(server="https://127.0.0.1:1", ca_data=garbage.decode(), token=lambda: "k8s-aws-v1.x")
    with pytest.raises(KubeError, match="is not a certificate ssl can load"):
        api.hpa_bounds("recsys", "tf-serving")


def test_cluster_ca_as_eks_publishes_it_is_trusted_and_no_other():
    """HTTPS against the sandbox's Kubernetes API: its CA verifies it, another CA does not."""
    tls, other = make_server_certificate(), make_server_certificate()
    fake = FakeKube(hpa_min=2, hpa_max=6, tls=tls)
    try:
        trusted = KubeApi(server=fake.url, ca_data=tls.ca_data, token=lambda: "k8s-aws-v1.x")
        assert trusted.hpa_bounds("recsys", "tf-serving") == {"minReplicas": 2, "maxReplicas": 6}
        stranger = KubeApi(server=fake.url, ca_data=other.ca_data, token=lambda: "k8s-aws-v1.x")
        with pytest.raises(KubeError, match="CERTIFICATE_VERIFY_FAILED"):
            stranger.hpa_bounds("recsys", "tf-serving")
    finally:
        fake.stop()


def test_a_cluster_without_an_endpoint_yet_is_a_kube_error():
    class Eks:
        def describe_cluster(self, name):
            return {"cluster": {"name": name, "status": "CREATING"}}

    with pytest.raises(KubeError, match="cluster recsys-standby has no API endpoint yet .status CREATING."):
        connect(Eks(), None, "recsys-standby")


def test_an_answer_that_is_not_json_is_a_kube_error():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Html(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - a proxy's login page instead of the API
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>sign in</html>")

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = KubeApi(server=f"http://127.0.0.1:{server.server_address[1]}", ca_data=None, token=lambda: "t")
        with pytest.raises(KubeError, match="answered something that is not JSON"):
            api.available_replicas("recsys", "tf-serving")
    finally:
        server.shutdown()
        server.server_close()


def test_failover_dry_run_with_the_clusters_ca_from_moto_is_one_reason_and_exit_1(pilot_env, tmp_path, capsys):
    """The reported traceback: moto's DescribeCluster gives random `certificateAuthority.data`."""
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(with_activation_outputs(pilot_env.outputs)))
    code, out, err = run(["failover", "--to", "standby", "--dry-run", "--outputs", str(path), "--http-timeout", "2"],
                         capsys)
    assert code == 1
    failed = next(line for line in out.splitlines() if line.startswith("standby activation failed"))
    assert failed.startswith("standby activation failed: cannot read the standby's current sizes: KubeError: "
                             "certificateAuthority.data of https://")  # moto's random letters decode to binary
    assert failed.endswith("is base64 but not a PEM certificate; cannot trust its API server")
    assert "refused (exit 1)" in out


# --------------------------------------------------------------------------- whatever else escapes


@pytest.fixture
def outputs_file(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs_doc("health-check")))
    return str(path)


@pytest.mark.parametrize("command", [["status"], ["failover", "--to", "standby"], ["drill", "--confirm", "prod"]])
def test_an_unexpected_error_is_one_line_and_exit_1(monkeypatch, capsys, outputs_file, command):
    def broken(*_args, **_kwargs):
        raise RuntimeError("a check nobody expected broke")

    monkeypatch.setattr("recsys_dr.operations.cli.build_tools", broken)
    code, _out, err = run(command + ["--outputs", outputs_file], capsys)
    assert code == 1
    assert one_line(err) == (f"recsys-dr {command[0]}: stopped by an unexpected error: RuntimeError: a check nobody "
                             "expected broke (RECSYS_DR_DEBUG=1 shows where)")


def test_debug_variable_shows_the_traceback(monkeypatch, outputs_file):
    monkeypatch.setattr("recsys_dr.operations.cli.build_tools", lambda *a, **k: 1 / 0)
    monkeypatch.setenv("RECSYS_DR_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["status", "--outputs", outputs_file])


def test_an_aws_error_escaping_a_handler_reads_as_aws_says_it(monkeypatch, capsys, outputs_file):
    from botocore.exceptions import ClientError

    def denied(*_args, **_kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"},
                           "ResponseMetadata": {"HTTPStatusCode": 403}}, "DescribeCluster")

    monkeypatch.setattr("recsys_dr.operations.cli.build_tools", denied)
    code, _out, err = run(["status", "--outputs", outputs_file], capsys)
    assert code == 1 and "AccessDenied (HTTP 403): not allowed" in one_line(err)


@pytest.mark.parametrize("command, says", [
    (["status"], "recsys-dr status: interrupted"),
    (["failover", "--to", "standby"], "recsys-dr failover: interrupted; what it changed before the interrupt stays "
                                      "changed: see `recsys-dr status`"),
])
def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys, outputs_file, command, says):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("recsys_dr.operations.cli.build_tools", interrupted)
    code, _out, err = run(command + ["--outputs", outputs_file], capsys)
    assert code == 130 and one_line(err) == says


def test_kubernetes_api_that_refuses_connections_is_one_reason(pilot_env, tmp_path, capsys, monkeypatch):
    """The standby's API server does not answer: the dry run refuses with the reason, exit 1."""
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(with_activation_outputs(pilot_env.outputs)))
    port = closed_port()
    monkeypatch.setattr("recsys_dr.operations.clients.ClientFactory.kube",
                        lambda self, region, name: KubeApi(server=f"http://127.0.0.1:{port}", ca_data=None,
                                                           token=lambda: "k8s-aws-v1.x", timeout=2))
    code, out, _err = run(["failover", "--to", "standby", "--dry-run", "--outputs", str(path)], capsys)
    assert code == 1
    failed = next(line for line in out.splitlines() if line.startswith("standby activation failed"))
    assert f"no answer from http://127.0.0.1:{port}" in failed and "refused (exit 1)" in out
