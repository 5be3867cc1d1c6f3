"""A throw-away certificate authority for the sandbox's HTTPS stand-ins (the fake Kubernetes API).

EKS serves each cluster's API over HTTPS with a cluster CA and publishes the CA as base64 PEM in
`DescribeCluster`'s `certificateAuthority.data`; `operations.kube` trusts exactly that CA. The
sandbox does the same with a CA made here, so the client's TLS path (base64 -> PEM -> ssl context)
runs as it does against a real cluster.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerCertificate:
    """A CA and a server certificate it signed for 127.0.0.1, all PEM.

    Attributes:
        ca_pem: bytes, the CA certificate (what a client trusts).
        cert_pem: bytes, the server certificate (SAN IP:127.0.0.1, DNS:localhost).
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


def make_server_certificate(*, days: int = 2) -> ServerCertificate:
    """A new CA and a server certificate for 127.0.0.1/localhost signed by it (EC P-256)."""
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
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    server = (builder(server_name, server_key.public_key())
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                          x509.DNSName("localhost")]), critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return ServerCertificate(
        ca_pem=ca.public_bytes(pem),
        cert_pem=server.public_bytes(pem),
        key_pem=server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
