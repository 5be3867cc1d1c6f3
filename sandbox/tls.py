"""Throw-away certificate authorities for the sandbox's HTTPS stand-ins.

* The fake Kubernetes API: EKS serves each cluster's API over HTTPS with a cluster CA and
  publishes the CA as base64 PEM in `DescribeCluster`'s `certificateAuthority.data`;
  `operations.kube` trusts exactly that CA. The sandbox does the same with a CA made here, so the
  client's TLS path (base64 -> PEM -> ssl context) runs as it does against a real cluster.
* A front door with a certificate: the balancer presents an ACM certificate for the record name,
  which `recsys-dr status` verifies through the system's trust store. The sandbox's endpoints
  present one for the record name from their own CA, and `trust_bundle` writes the CAs for
  `SSL_CERT_FILE` (the system's, as certifi ships them, plus that CA).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerCertificate:
    """A CA and a server certificate it signed, all PEM.

    Attributes:
        ca_pem: bytes, the CA certificate (what a client trusts).
        cert_pem: bytes, the server certificate (its names in the subject alternative name).
        key_pem: bytes, the server's private key (unencrypted; never leaves the sandbox folder).
    """

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @property
    def ca_data(self) -> str:
        """The CA as EKS publishes it: base64 of the PEM text."""
        return base64.b64encode(self.ca_pem).decode("ascii")

    def write(self, folder: Path) -> tuple[Path, Path]:
        """Write the server's certificate and key (for `ssl.SSLContext.load_cert_chain`)."""
        cert, key = folder / "kube-server.crt", folder / "kube-server.key"
        cert.write_bytes(self.cert_pem)
        key.touch(mode=0o600)
        key.write_bytes(self.key_pem)
        return cert, key


def make_server_certificate(*, days: int = 2, dns_names: tuple[str, ...] = ("localhost",),
                            ip_addresses: tuple[str, ...] = ("127.0.0.1",)) -> ServerCertificate:
    """A new CA and a server certificate for `dns_names` and `ip_addresses` signed by it (EC P-256).

    Defaults: localhost and 127.0.0.1 (the fake Kubernetes API)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "recsys-dr sandbox cluster CA")])

    def builder(subject, public_key):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public_key)
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=days)))

    ca = (builder(ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (dns_names or ip_addresses)[0])])
    alternatives: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    alternatives += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
    server = (builder(server_name, server_key.public_key())
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return ServerCertificate(
        ca_pem=ca.public_bytes(pem),
        cert_pem=server.public_bytes(pem),
        key_pem=server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def server_context(tls: ServerCertificate) -> ssl.SSLContext:
    """A server-side TLS context presenting `tls`'s certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="recsys-dr-tls-") as folder:  # load_cert_chain reads files only
        cert, key = tls.write(Path(folder))
        context.load_cert_chain(cert, key)
    return context


def trust_bundle(tls: ServerCertificate, path: Path) -> Path:
    """Write certifi's CA bundle plus `tls`'s CA to `path`: with `SSL_CERT_FILE` pointing at it,
    OpenSSL's default trust (Python's `ssl.create_default_context`) accepts the sandbox's
    certificates and everything it accepted before."""
    import certifi  # requests' dependency, so moto's

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n" + tls.ca_pem)
    return path
