"""Route 53's health checkers and failover answers, as the sandbox plays them.

moto stores health checks and records but answers `GetHealthCheckStatus` with one fixed
"Success" observation and has no `TestDNSAnswer` (moto `route53/responses.py`, `route53/urls.py`).
The sandbox computes both from the stored configuration, by the documented rules:

* An HTTP(S) / HTTP(S)_STR_MATCH check passes when the endpoint answers a status >= 200 and < 400,
  and for the _STR_MATCH types when the search string (case counts) is in the first 5,120 bytes of
  the body (Route 53 API reference, `HealthCheckConfig`: `Type`, `SearchString`). The sandbox's
  checkers do not verify an HTTPS endpoint's certificate: they reach loopback stand-ins whose
  certificates name the record, not the address they probe.
* A disabled check is healthy; an inverted one is unhealthy when its endpoint passes and
  healthy when it fails (API reference, `UpdateHealthCheck`: `Disabled`, `Inverted`).
* Failover records: the PRIMARY is answered while its check is healthy, else the SECONDARY
  while its check is healthy; a record without a check is healthy; when no record is healthy,
  all are treated as healthy, so the PRIMARY is answered (Route 53 Developer Guide, "How Amazon
  Route 53 chooses records when health checking is configured").
* Alias records (`resolve`): with Evaluate Target Health an alias is healthy while its target is: a
  load balancer with a healthy target, or a group of records in the zone of which at least one is
  healthy ("Alias records", same page); with a health check as well, both must hold (Developer Guide,
  "How health checks work in complex Amazon Route 53 configurations"). An alias of a record is
  answered with what that record's group answers; an alias of a load balancer with the addresses its
  name resolves to (API reference, `AliasTarget`: `DNSName`, `EvaluateTargetHealth`).

The sandbox checks when asked, not every `RequestInterval` seconds with `FailureThreshold`
consecutive results, so a change shows at once: no detection delay.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import urllib.error
import urllib.request
from typing import Any, Callable
from xml.sax.saxutils import escape

SEARCH_BYTES = 5120
"""Route 53 searches this many bytes of the body for an HTTP_STR_MATCH check's string."""
CHECKER_REGIONS = ("us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-southeast-2",
                   "ap-northeast-1", "sa-east-1")
"""The Regions Route 53's checkers run from when a check names none (`HealthCheckConfig.Regions`)."""
XMLNS = "https://route53.amazonaws.com/doc/2013-04-01/"
NAMESERVER = "ns-sandbox.awsdns-00.org"


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_UNVERIFIED = ssl.create_default_context()
_UNVERIFIED.check_hostname, _UNVERIFIED.verify_mode = False, ssl.CERT_NONE
_NO_REDIRECTS = urllib.request.build_opener(_KeepRedirects, urllib.request.HTTPSHandler(context=_UNVERIFIED))
HTTP_TYPES = {"HTTP": "http", "HTTP_STR_MATCH": "http", "HTTPS": "https", "HTTPS_STR_MATCH": "https"}


def probe(config: dict[str, Any], *, timeout: float = 2.0) -> tuple[bool, str]:
    """What one checker sees: (passes, status text like Route 53's `StatusReport.Status`)."""
    kind = config.get("Type")
    if kind not in HTTP_TYPES:
        return True, f"Success: {kind} checks are not probed by the sandbox"
    host = config.get("IPAddress") or config.get("FullyQualifiedDomainName")
    scheme = HTTP_TYPES[kind]
    port = config.get("Port", 443 if scheme == "https" else 80)
    url = f"{scheme}://{host}:{port}{config.get('ResourcePath') or '/'}"
    try:
        with _NO_REDIRECTS.open(url, timeout=timeout) as resp:
            status, reason, body = resp.status, resp.reason, resp.read(SEARCH_BYTES)
    except urllib.error.HTTPError as exc:  # 3xx land here too: checkers do not follow redirects
        status, reason, body = exc.code, exc.reason, exc.read(SEARCH_BYTES) if exc.fp else b""
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"Failure: Connection to {host} failed: {reason}"
    if not 200 <= status < 400:
        return False, f"Failure: HTTP Status Code {status}, {reason}"
    wanted = config.get("SearchString")
    if kind.endswith("_STR_MATCH") and wanted and wanted.encode() not in body:
        return False, f"Failure: HTTP Status Code {status}, {reason}. Search string not found in the response body"
    return True, f"Success: HTTP Status Code {status}, {reason}"


def is_healthy(config: dict[str, Any], probe_result: Callable[[], tuple[bool, str]]) -> bool:
    """The check's status as routing sees it: disabled is healthy, inverted flips the probe."""
    passes = True if config.get("Disabled") else probe_result()[0]
    return not passes if config.get("Inverted") else passes


def resolve_addresses(name: str) -> list[str]:
    """The IPv4 addresses `name` resolves to (an alias target's), sorted; none when it does not resolve."""
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)})
    except OSError:
        return []


def failover_answer(record_sets: list[dict[str, Any]], name: str, record_type: str,
                    healthy: Callable[[str], bool], *, alias_healthy: Callable[[str], bool] = lambda _name: True,
                    addresses: Callable[[str], list[str]] = resolve_addresses) -> list[str]:
    """The addresses or values a DNS query for `name`/`record_type` gets (`TestDNSAnswer`).

    Args:
        record_sets: ResourceRecordSets as `ListResourceRecordSets` returns them.
        name: str, the record name (with or without the trailing dot).
        record_type: str, e.g. CNAME, or A for the front doors' aliases.
        healthy: callable(health check id) -> bool.
        alias_healthy: callable(load balancer DNS name, lower case) -> bool, the balancer's own
            health, asked only for aliases with `EvaluateTargetHealth`. Default always healthy.
        addresses: callable(DNS name) -> addresses, what an alias of a balancer is answered with.
            Default the resolver's.
    """
    return resolve(record_sets, name, record_type, healthy=healthy, target_healthy=alias_healthy, addresses=addresses)


def _name(value: str) -> str:
    return value.rstrip(".").lower() + "."


def _group(record_sets: list[dict[str, Any]], name: str, record_type: str) -> list[dict[str, Any]]:
    return [s for s in record_sets if _name(s.get("Name", "")) == _name(name) and s.get("Type") == record_type]


def record_healthy(record: dict[str, Any], record_sets: list[dict[str, Any]], *, healthy: Callable[[str], bool],
                   target_healthy: Callable[[str], bool] = lambda _name: True) -> bool:
    """Whether Route 53 counts `record` healthy (see the module docstring for the rules)."""
    if record.get("HealthCheckId") and not healthy(record["HealthCheckId"]):
        return False
    alias = record.get("AliasTarget")
    if not alias or not alias.get("EvaluateTargetHealth"):
        return True
    group = _group(record_sets, alias["DNSName"], record["Type"])
    if group:  # another record of this zone: healthy while one record of its group is
        return any(record_healthy(r, record_sets, healthy=healthy, target_healthy=target_healthy) for r in group)
    return target_healthy(alias["DNSName"].rstrip(".").lower())


def resolve(record_sets: list[dict[str, Any]], name: str, record_type: str, *, healthy: Callable[[str], bool],
            target_healthy: Callable[[str], bool] = lambda _name: True,
            addresses: Callable[[str], list[str]] | None = None) -> list[str]:
    """What Route 53 answers for `name`/`record_type`: a simple record's values, or the failover
    group's chosen record (PRIMARY while healthy, else a healthy SECONDARY, else the PRIMARY),
    following aliases of records of the zone; an alias of a load balancer answers its name.

    Args:
        record_sets: the zone's ResourceRecordSets as `ListResourceRecordSets` returns them.
        healthy: callable(health check id) -> bool.
        target_healthy: callable(load balancer DNS name) -> bool, for aliases with Evaluate Target
            Health (the balancer has a healthy target). Default: always.
        addresses: callable(load balancer DNS name) -> its addresses; None answers the name itself.
    """
    group = _group(record_sets, name, record_type)
    if not group:
        return []
    by_role = {s.get("Failover"): s for s in group}
    if None in by_role:  # not a failover record: simple routing
        chosen = by_role[None]
    else:
        candidates = [by_role[role] for role in ("PRIMARY", "SECONDARY") if role in by_role]
        chosen = next((r for r in candidates if record_healthy(r, record_sets, healthy=healthy, target_healthy=target_healthy)),
                      candidates[0])  # none healthy: all count as healthy, the PRIMARY is answered
    alias = chosen.get("AliasTarget")
    if alias is None:
        return _values(chosen)
    if _group(record_sets, alias["DNSName"], record_type):
        return resolve(record_sets, alias["DNSName"], record_type, healthy=healthy, target_healthy=target_healthy,
                       addresses=addresses)
    target = alias["DNSName"].rstrip(".").lower()
    return addresses(target) if addresses else [target]


def _values(record: dict) -> list[str]:
    return [r["Value"] for r in record.get("ResourceRecords", [])]


def status_xml(config: dict[str, Any], probe_result: Callable[[], tuple[bool, str]]) -> bytes:
    """A `GetHealthCheckStatus` answer: one observation per checker Region, each what the endpoint
    answered (the checkers report the endpoint; `Inverted` applies to routing)."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if config.get("Disabled"):
        observations = []
    else:
        _ok, text = probe_result()
        observations = [(region, text) for region in (config.get("Regions") or CHECKER_REGIONS)]
    items = "".join(
        f"<HealthCheckObservation><Region>{region}</Region><IPAddress>127.0.0.1</IPAddress><StatusReport>"
        f"<Status>{escape(text)}</Status><CheckedTime>{now}</CheckedTime></StatusReport></HealthCheckObservation>"
        for region, text in observations)
    return (f'<?xml version="1.0" encoding="UTF-8"?><GetHealthCheckStatusResponse xmlns="{XMLNS}">'
            f"<HealthCheckObservations>{items}</HealthCheckObservations></GetHealthCheckStatusResponse>").encode()


def dns_answer_xml(name: str, record_type: str, values: list[str]) -> bytes:
    """A `TestDNSAnswer` answer (NXDOMAIN when nothing matches)."""
    data = "".join(f"<RecordDataEntry>{escape(v)}</RecordDataEntry>" for v in values)
    code = "NOERROR" if values else "NXDOMAIN"
    return (f'<?xml version="1.0" encoding="UTF-8"?><TestDNSAnswerResponse xmlns="{XMLNS}">'
            f"<Nameserver>{NAMESERVER}</Nameserver><RecordName>{escape(name)}</RecordName>"
            f"<RecordType>{escape(record_type)}</RecordType><RecordData>{data}</RecordData>"
            f"<ResponseCode>{code}</ResponseCode><Protocol>UDP</Protocol></TestDNSAnswerResponse>").encode()
