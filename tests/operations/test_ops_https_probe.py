"""Where a region's front door serves HTTPS (`regions.<role>.frontDoor.scheme`), operators ask TF
Serving's status over it: TCP to the region's balancer, TLS verified for `dns.recordName`, the name
its certificate is for."""

from __future__ import annotations

import datetime
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from recsys_dr.operations.checks import probe_region
from recsys_dr.operations.outputs import parse_outputs
from recsys_dr.sandbox.serving import FakeServing
from tests.operations.ops_fixtures import MODEL, VERSION, outputs_doc

RECORD = "recs.shop.example.com"


def _certificate(name: str, key, issuer_name, issuer_key, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test CA, and a server context whose certificate is for `RECORD` (as ACM's is for the record name)."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "recsys-dr test CA")])
    ca = _certificate("recsys-dr test CA", ca_key, ca_name, ca_key, ca=True)
    contexts = {}
    for name in (RECORD, "elsewhere.example.com"):
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _certificate(name, key, ca_name, ca_key, ca=False)
        (folder / f"{name}.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM)
                                             + key.private_bytes(serialization.Encoding.PEM,
                                                                 serialization.PrivateFormat.PKCS8,
                                                                 serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / f"{name}.pem")
        contexts[name] = context
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return folder / "ca.pem", contexts


def outputs_for(port: int, *, tls: bool):
    doc = outputs_doc("health-check")
    doc["regions"]["standby"]["endpoint"] = f"127.0.0.1:{port}"
    doc["regions"]["standby"]["frontDoor"] = {"scheme": "https" if tls else "http", "port": 443 if tls else 80,
                                              "loadBalancerArn": "arn:lb", "targetGroupArn": "arn:tg"}
    return parse_outputs(doc)


@pytest.fixture
def trusted(pki, monkeypatch):
    # OpenSSL's default verify paths honour SSL_CERT_FILE: the probe keeps the default trust store.
    monkeypatch.setenv("SSL_CERT_FILE", str(pki[0]))
    return pki[1]


def test_a_tls_region_is_probed_over_https_for_the_record_name(trusted):
    serving = FakeServing(MODEL, {str(VERSION): "AVAILABLE"}, tls=trusted[RECORD])
    try:
        outputs = outputs_for(serving.port, tls=True)
        ok, detail, data = probe_region(outputs, outputs.standby, timeout=2)
    finally:
        serving.stop()
    assert (ok, detail) == (True, f"v{VERSION} AVAILABLE")
    # To the region's balancer, the certificate checked for the record name (SNI and Host).
    assert data["url"] == f"https://127.0.0.1:{serving.port}/v1/models/recommender"
    assert serving.requests == 1


def test_a_certificate_for_another_name_fails_the_probe(trusted):
    serving = FakeServing(MODEL, {str(VERSION): "AVAILABLE"}, tls=trusted["elsewhere.example.com"])
    try:
        outputs = outputs_for(serving.port, tls=True)
        ok, detail, _ = probe_region(outputs, outputs.standby, timeout=2)
    finally:
        serving.stop()
    assert not ok and "CERTIFICATE_VERIFY_FAILED" in detail


def test_a_region_without_tls_is_probed_over_http():
    serving = FakeServing(MODEL, {str(VERSION): "AVAILABLE"})
    try:
        outputs = outputs_for(serving.port, tls=False)
        ok, _, data = probe_region(outputs, outputs.standby, timeout=2)
    finally:
        serving.stop()
    assert ok and data["url"] == f"http://127.0.0.1:{serving.port}/v1/models/recommender"
