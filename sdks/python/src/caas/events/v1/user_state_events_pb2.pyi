import datetime

from caas.chat.v1 import read_state_pb2 as _read_state_pb2
from caas.crypto.v1 import device_keys_pb2 as _device_keys_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UserStateEventEnvelope(_message.Message):
    __slots__ = ("event_id", "tenant_id", "user_id", "create_time", "correlation_id", "read_marker_moved", "delivery_marker_moved", "user_blocked", "user_unblocked", "one_time_prekeys_low", "device_list_changed")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    READ_MARKER_MOVED_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_MARKER_MOVED_FIELD_NUMBER: _ClassVar[int]
    USER_BLOCKED_FIELD_NUMBER: _ClassVar[int]
    USER_UNBLOCKED_FIELD_NUMBER: _ClassVar[int]
    ONE_TIME_PREKEYS_LOW_FIELD_NUMBER: _ClassVar[int]
    DEVICE_LIST_CHANGED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    tenant_id: str
    user_id: str
    create_time: _timestamp_pb2.Timestamp
    correlation_id: str
    read_marker_moved: ReadMarkerMoved
    delivery_marker_moved: DeliveryMarkerMoved
    user_blocked: UserBlocked
    user_unblocked: UserUnblocked
    one_time_prekeys_low: OneTimePreKeysLow
    device_list_changed: DeviceListChanged
    def __init__(self, event_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., correlation_id: _Optional[str] = ..., read_marker_moved: _Optional[_Union[ReadMarkerMoved, _Mapping]] = ..., delivery_marker_moved: _Optional[_Union[DeliveryMarkerMoved, _Mapping]] = ..., user_blocked: _Optional[_Union[UserBlocked, _Mapping]] = ..., user_unblocked: _Optional[_Union[UserUnblocked, _Mapping]] = ..., one_time_prekeys_low: _Optional[_Union[OneTimePreKeysLow, _Mapping]] = ..., device_list_changed: _Optional[_Union[DeviceListChanged, _Mapping]] = ...) -> None: ...

class ReadMarkerMoved(_message.Message):
    __slots__ = ("read_state",)
    READ_STATE_FIELD_NUMBER: _ClassVar[int]
    read_state: _read_state_pb2.ReadState
    def __init__(self, read_state: _Optional[_Union[_read_state_pb2.ReadState, _Mapping]] = ...) -> None: ...

class DeliveryMarkerMoved(_message.Message):
    __slots__ = ("read_state",)
    READ_STATE_FIELD_NUMBER: _ClassVar[int]
    read_state: _read_state_pb2.ReadState
    def __init__(self, read_state: _Optional[_Union[_read_state_pb2.ReadState, _Mapping]] = ...) -> None: ...

class UserBlocked(_message.Message):
    __slots__ = ("blocked_user_id",)
    BLOCKED_USER_ID_FIELD_NUMBER: _ClassVar[int]
    blocked_user_id: str
    def __init__(self, blocked_user_id: _Optional[str] = ...) -> None: ...

class UserUnblocked(_message.Message):
    __slots__ = ("blocked_user_id",)
    BLOCKED_USER_ID_FIELD_NUMBER: _ClassVar[int]
    blocked_user_id: str
    def __init__(self, blocked_user_id: _Optional[str] = ...) -> None: ...

class OneTimePreKeysLow(_message.Message):
    __slots__ = ("device_id", "remaining", "threshold")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    device_id: int
    remaining: int
    threshold: int
    def __init__(self, device_id: _Optional[int] = ..., remaining: _Optional[int] = ..., threshold: _Optional[int] = ...) -> None: ...

class DeviceListChanged(_message.Message):
    __slots__ = ("device_id", "kind", "change_seq", "conversation_ids")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CHANGE_SEQ_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    device_id: int
    kind: _device_keys_pb2.DeviceChangeKind
    change_seq: int
    conversation_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, device_id: _Optional[int] = ..., kind: _Optional[_Union[_device_keys_pb2.DeviceChangeKind, str]] = ..., change_seq: _Optional[int] = ..., conversation_ids: _Optional[_Iterable[str]] = ...) -> None: ...
