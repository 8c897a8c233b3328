from buf.validate import validate_pb2 as _validate_pb2
from caas.gateway.v1 import platform_pb2 as _platform_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetPlatformStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPlatformStatusResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _platform_pb2.PlatformStatus
    def __init__(self, status: _Optional[_Union[_platform_pb2.PlatformStatus, _Mapping]] = ...) -> None: ...

class ProbeEventBusRequest(_message.Message):
    __slots__ = ("timeout_ms",)
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    timeout_ms: int
    def __init__(self, timeout_ms: _Optional[int] = ...) -> None: ...

class ProbeEventBusResponse(_message.Message):
    __slots__ = ("probe_id", "answers", "missing_services")
    PROBE_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    MISSING_SERVICES_FIELD_NUMBER: _ClassVar[int]
    probe_id: str
    answers: _containers.RepeatedCompositeFieldContainer[ProbeAnswer]
    missing_services: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, probe_id: _Optional[str] = ..., answers: _Optional[_Iterable[_Union[ProbeAnswer, _Mapping]]] = ..., missing_services: _Optional[_Iterable[str]] = ...) -> None: ...

class ProbeAnswer(_message.Message):
    __slots__ = ("service", "instance_id", "latency_ms")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    service: str
    instance_id: str
    latency_ms: int
    def __init__(self, service: _Optional[str] = ..., instance_id: _Optional[str] = ..., latency_ms: _Optional[int] = ...) -> None: ...
