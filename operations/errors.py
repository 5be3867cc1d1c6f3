"""Operator-facing text for AWS/HTTP errors, and which errors mean "not answering".

Shared by the checks, the ARC data-plane client and the drill, so an error reads the same
wherever it is reported.
"""

from __future__ import annotations

import urllib.error


def error_text(exc: BaseException) -> str:
    """Short text for an exception from boto3/urllib: `Code (HTTP status): message`, else `Type: message`."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = err.get("Code", "?")
        msg = err.get("Message", "")
        return f"{code} (HTTP {status}){': ' + msg if msg else ''}"
    return f"{type(exc).__name__}: {exc}"


def is_unreachable(exc: BaseException) -> bool:
    """Connection errors, timeouts and 5xx answers: the region/service is not answering."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500
    return isinstance(exc, (urllib.error.URLError, TimeoutError, ConnectionError))
