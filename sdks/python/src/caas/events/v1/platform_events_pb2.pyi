import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlatformProbeEnvelope(_message.Message):
    __slots__ = ("probe_id", "create_time", "request", "reply")
    PROBE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    REPLY_FIELD_NUMBER: _ClassVar[int]
    probe_id: str
    create_time: _timestamp_pb2.Timestamp
    request: ProbeRequest
    reply: ProbeReply
    def __init__(self, probe_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request: _Optional[_Union[ProbeRequest, _Mapping]] = ..., reply: _Optional[_Union[ProbeReply, _Mapping]] = ...) -> None: ...

class ProbeRequest(_message.Message):
    __slots__ = ("from_instance",)
    FROM_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    from_instance: str
    def __init__(self, from_instance: _Optional[str] = ...) -> None: ...

class ProbeReply(_message.Message):
    __slots__ = ("service", "instance_id")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    service: str
    instance_id: str
    def __init__(self, service: _Optional[str] = ..., instance_id: _Optional[str] = ...) -> None: ...
