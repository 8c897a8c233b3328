import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MediaEventEnvelope(_message.Message):
    __slots__ = ("event_id", "tenant_id", "create_time", "correlation_id", "actor_user_id", "media_deleted")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_DELETED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    tenant_id: str
    create_time: _timestamp_pb2.Timestamp
    correlation_id: str
    actor_user_id: str
    media_deleted: MediaDeleted
    def __init__(self, event_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., correlation_id: _Optional[str] = ..., actor_user_id: _Optional[str] = ..., media_deleted: _Optional[_Union[MediaDeleted, _Mapping]] = ...) -> None: ...

class MediaDeleted(_message.Message):
    __slots__ = ("media_id", "owner_id")
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    owner_id: str
    def __init__(self, media_id: _Optional[str] = ..., owner_id: _Optional[str] = ...) -> None: ...
