"""The operator commands see the front door: its target health, HTTPS with the record's name, alias records."""

from __future__ import annotations

import copy
import datetime
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from recsys_dr.operations.checks import CheckContext, check_dns_records, check_targets, https_get
from recsys_dr.operations.failover import dns_answer
from recsys_dr.operations.outputs import OutputsError, parse_outputs
from tests.operations.ops_fixtures import STANDBY_REGION, Route53Status, client, client_factory, outputs_doc

RECORD = "recs.shop.example.com"


def with_front_doors(doc: dict, target_groups: dict[str, str]) -> dict:
    doc = copy.deepcopy(doc)
    for role, group in target_groups.items():
        doc["regions"][role]["frontDoor"] = {"scheme": "https", "port": 443, "targetGroupArn": group,
                                             "loadBalancerArn": group.replace(":targetgroup/", ":loadbalancer/app/")}
        doc["regions"][role]["scaledObjectName"] = "tf-serving"
    return doc


def test_outputs_carry_each_regions_front_door_and_scaled_object():
    doc = with_front_doors(outputs_doc(), {"primary": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/p/1",
                                           "standby": "arn:aws:elasticloadbalancing:us-west-2:1:targetgroup/s/2"})
    outputs = parse_outputs(doc)
    assert outputs.standby.front_door.scheme == "https" and outputs.standby.front_door.port == 443
    assert outputs.standby.front_door.target_group_arn.endswith("targetgroup/s/2")
    assert outputs.standby.scaled_object_name == "tf-serving"
    doc["regions"]["standby"]["frontDoor"]["scheme"] = "ftp"
    with pytest.raises(OutputsError, match=r"`regions.standby.frontDoor.scheme` must be one of: https, http. Received: 'ftp'"):
        parse_outputs(doc)
    assert parse_outputs(outputs_doc()).standby.front_door is None  # outputs of a stack without one


@pytest.fixture
def target_group(aws):
    """The standby's target group in moto (ELBv2's DescribeTargetHealth answers from it)."""
    vpc = client("ec2", STANDBY_REGION).create_vpc(CidrBlock="10.21.0.0/16")["Vpc"]["VpcId"]
    elbv2 = client("elbv2", STANDBY_REGION)
    arn = elbv2.create_target_group(Name="rdr-standby", Protocol="HTTP", Port=8501, VpcId=vpc, TargetType="ip",
                                    HealthCheckPath="/v1/models/recommender")["TargetGroups"][0]["TargetGroupArn"]
    return elbv2, arn


def targets_result(arn: str, *, mode: str = "warm"):
    doc = with_front_doors(outputs_doc(), {"primary": arn.replace(STANDBY_REGION, "us-east-1"), "standby": arn})
    doc["standbyMode"] = mode
    outputs = parse_outputs(doc)
    ctx = CheckContext(outputs=outputs, clients=client_factory(), target="standby")
    return check_targets(ctx, outputs.standby)


def test_status_reads_the_target_health_of_the_standbys_front_door(target_group):
    elbv2, arn = target_group
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.21.0.5", "Port": 8501}, {"Id": "10.21.64.9", "Port": 8501}])
    result = targets_result(arn)
    assert result.ok and result.detail.startswith("2/2 targets healthy")
    assert result.data["states"] == {"healthy": 2}


def test_no_healthy_target_blocks_the_standby_and_says_how_a_pilot_light_gets_one(target_group):
    _, arn = target_group
    result = targets_result(arn, mode="pilot-light")
    assert not result.ok and result.blocks
    assert "0/0 targets healthy" in result.detail and "`recsys-dr failover --to standby` activates it" in result.detail


def test_activation_fixes_the_targets_so_failover_does_not_refuse_for_them():
    from recsys_dr.operations.failover import ACTIVATION_FIXES

    assert "targets" in ACTIVATION_FIXES


# --- HTTPS with the record's name ------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A local HTTPS server whose certificate names only the record (as the ACM certificate does)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, RECORD)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(RECORD)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    seen: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args):
            pass

        def do_GET(self):  # noqa: N802
            seen["host"], seen["path"] = self.headers["Host"], self.path
            body = b'{"model_version_status": [{"version": "1", "state": "AVAILABLE"}]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")

    def sni(_sock, server_name, _context):
        seen["sni"] = server_name

    context.sni_callback = sni
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    trust = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    yield server.server_address[1], trust, seen
    server.shutdown()
    server.server_close()


def test_the_probe_reaches_the_balancer_but_speaks_tls_for_the_record(tls_server):
    port, trust, seen = tls_server
    status, body = https_get(f"https://127.0.0.1:{port}/v1/models/recommender", 5, server_name=RECORD, context=trust)
    assert status == 200 and b"AVAILABLE" in body
    assert seen == {"sni": RECORD, "host": RECORD, "path": "/v1/models/recommender"}


def test_the_certificate_is_verified_against_the_record_name(tls_server):
    port, trust, _ = tls_server
    with pytest.raises(ssl.SSLCertVerificationError):
        https_get(f"https://127.0.0.1:{port}/v1/models/recommender", 5, server_name="other.example.com", context=trust)


# --- alias records ---------------------------------------------------------------------------------

def test_route53s_answer_to_an_alias_is_matched_by_the_balancers_addresses():
    doc = with_front_doors(outputs_doc(), {"primary": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/p/1",
                                           "standby": "arn:aws:elasticloadbalancing:us-west-2:1:targetgroup/s/2"})
    outputs = parse_outputs(doc)
    addresses = {outputs.primary.endpoint.split(":")[0]: {"3.5.0.1", "3.5.0.2"}, outputs.standby.endpoint.split(":")[0]: {"34.1.1.1"}}
    route53 = Route53Status(None)
    route53.answer = ["34.1.1.1"]
    answer = dns_answer(outputs, route53, resolve=lambda host: addresses.get(host, set()))
    assert answer["role"] == "standby" and answer["records"] == ["34.1.1.1"]


def test_alias_failover_records_are_recognised(aws):
    r53 = client("route53", "us-east-1")
    zone = r53.create_hosted_zone(Name="shop.example.com", CallerReference="z")["HostedZone"]["Id"].split("/")[-1]
    doc = outputs_doc()
    doc["dns"]["zoneId"] = zone
    checks = {}
    for role in ("primary", "standby"):
        checks[role] = r53.create_health_check(CallerReference=role, HealthCheckConfig={
            "Type": "HTTPS_STR_MATCH", "FullyQualifiedDomainName": doc["regions"][role]["endpoint"], "Port": 443,
            "ResourcePath": "/v1/models/recommender", "SearchString": "AVAILABLE"})["HealthCheck"]["Id"]
    changes = [{"Action": "CREATE", "ResourceRecordSet": {
        "Name": doc["dns"]["recordName"], "Type": "A", "SetIdentifier": role, "Failover": failover,
        "HealthCheckId": checks[role], "AliasTarget": {"HostedZoneId": "Z35SXDOTRQ7X7K", "EvaluateTargetHealth": True,
                                                       "DNSName": f"dualstack.{doc['regions'][role]['endpoint']}."}}}
        for role, failover in (("primary", "PRIMARY"), ("standby", "SECONDARY"))]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    clients = client_factory()
    result = check_dns_records(CheckContext(outputs=parse_outputs(doc), clients=clients))
    assert result.ok, result.detail


def test_status_lists_each_regions_targets_beside_its_serving_check(env):
    from recsys_dr.operations.status import build_report

    groups = {}
    for role, region in (("primary", "us-east-1"), ("standby", STANDBY_REGION)):
        vpc = client("ec2", region).create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
        elbv2 = client("elbv2", region)
        groups[role] = elbv2.create_target_group(Name=f"rdr-{role}", Protocol="HTTP", Port=8501, VpcId=vpc,
                                                 TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        elbv2.register_targets(TargetGroupArn=groups[role], Targets=[{"Id": "10.30.0.5", "Port": 8501}])
    doc = with_front_doors(env.outputs, groups)
    for role in groups:  # the fake TF Serving endpoints speak plain HTTP
        doc["regions"][role]["frontDoor"].update(scheme="http", port=80)
    clients = client_factory()
    clients.set_client("route53", "us-east-1", Route53Status(clients.route53()))
    report = build_report(CheckContext(outputs=parse_outputs(doc), clients=clients, http_timeout=2))
    labels = [r.label for r in report.results]
    assert labels.index("serving[standby]") < labels.index("targets[standby]") < labels.index("capacity[standby]")
    assert report.ready, report.reasons
