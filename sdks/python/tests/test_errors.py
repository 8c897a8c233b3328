import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from caas import CaasError, FieldViolation


class FakeRpcError(grpc.RpcError):
    def __init__(self, code, details, trailers):
        self._code, self._details, self._trailers = code, details, trailers

    def code(self):
        return self._code

    def details(self):
        return self._details

    def trailing_metadata(self):
        return self._trailers


def test_decodes_bad_request_and_retry_info():
    status = status_pb2.Status(code=8, message="slow down")
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=1, nanos=500_000_000)))
    status.details.add().Pack(error_details_pb2.BadRequest(field_violations=[error_details_pb2.BadRequest.FieldViolation(field="text", description="too long")]))
    err = CaasError.from_rpc_error(FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", (("grpc-status-details-bin", status.SerializeToString()),)))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert err.details() == "slow down"
    assert err.retry_after == 1.5
    assert err.field_violations == [FieldViolation("text", "too long")]


def test_an_error_without_details_keeps_code_and_message():
    err = CaasError.from_rpc_error(FakeRpcError(grpc.StatusCode.NOT_FOUND, "conversation not found", ()))
    assert (err.code(), err.message, err.field_violations, err.retry_after) == (grpc.StatusCode.NOT_FOUND, "conversation not found", [], None)
