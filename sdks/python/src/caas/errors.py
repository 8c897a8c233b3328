"""Server errors as typed exceptions: code, message, field violations and retry delay."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2, status_pb2

from buf.validate import validate_pb2

_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    """One request field that failed validation, e.g. ``conversation_id`` or ``members[2].user_id``."""

    field: str
    description: str


class CaasError(grpc.RpcError):
    """A call the server refused. ``code`` is a ``grpc.StatusCode``; ``field_violations`` come from
    ``buf.validate.Violations`` (declared constraints) or ``google.rpc.BadRequest``; ``retry_after``
    (seconds) from ``google.rpc.RetryInfo``."""

    def __init__(self, code: grpc.StatusCode, message: str, field_violations: list[FieldViolation], retry_after: float | None, cause: grpc.RpcError | None = None):
        super().__init__(f"{code.name}: {message}")
        self._code = code
        self.message = message
        self.field_violations = field_violations
        self.retry_after = retry_after
        self.cause = cause

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self.message

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError) -> "CaasError":
        """Decodes the status details a grpcio call error carries in its trailing metadata."""
        code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
        message = err.details() if hasattr(err, "details") else str(err)
        violations: list[FieldViolation] = []
        retry_after: float | None = None
        trailers = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
        for key, value in trailers or ():
            if key != _DETAILS_KEY:
                continue
            status = status_pb2.Status.FromString(value)
            for any_detail in status.details:
                if any_detail.Is(validate_pb2.Violations.DESCRIPTOR):
                    v = validate_pb2.Violations()
                    any_detail.Unpack(v)
                    violations += [FieldViolation(_field_path(x.field), x.message) for x in v.violations]
                elif any_detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    b = error_details_pb2.BadRequest()
                    any_detail.Unpack(b)
                    violations += [FieldViolation(x.field, x.description) for x in b.field_violations]
                elif any_detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    r = error_details_pb2.RetryInfo()
                    any_detail.Unpack(r)
                    retry_after = r.retry_delay.ToTimedelta().total_seconds()
        return cls(code, message or "", violations, retry_after, err)


def _field_path(path: validate_pb2.FieldPath) -> str:
    out = []
    for el in path.elements:
        name = el.field_name
        which = el.WhichOneof("subscript")
        if which == "index":
            name += f"[{el.index}]"
        elif which is not None:
            name += f"[{getattr(el, which)!r}]"
        out.append(name)
    return ".".join(out)
