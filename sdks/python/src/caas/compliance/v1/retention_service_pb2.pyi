import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LegalHoldKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEGAL_HOLD_KIND_UNSPECIFIED: _ClassVar[LegalHoldKind]
    LEGAL_HOLD_KIND_USER: _ClassVar[LegalHoldKind]
    LEGAL_HOLD_KIND_CONVERSATION: _ClassVar[LegalHoldKind]
    LEGAL_HOLD_KIND_TENANT: _ClassVar[LegalHoldKind]
LEGAL_HOLD_KIND_UNSPECIFIED: LegalHoldKind
LEGAL_HOLD_KIND_USER: LegalHoldKind
LEGAL_HOLD_KIND_CONVERSATION: LegalHoldKind
LEGAL_HOLD_KIND_TENANT: LegalHoldKind

class RetentionPolicy(_message.Message):
    __slots__ = ("conversation_id", "message_max_age", "media_max_age", "update_time", "export_max_age")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_MAX_AGE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_MAX_AGE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPORT_MAX_AGE_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    message_max_age: _duration_pb2.Duration
    media_max_age: _duration_pb2.Duration
    update_time: _timestamp_pb2.Timestamp
    export_max_age: _duration_pb2.Duration
    def __init__(self, conversation_id: _Optional[str] = ..., message_max_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., media_max_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., export_max_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class SetRetentionPolicyRequest(_message.Message):
    __slots__ = ("policy", "tenant_id")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    policy: RetentionPolicy
    tenant_id: str
    def __init__(self, policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class SetRetentionPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: RetentionPolicy
    def __init__(self, policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ...) -> None: ...

class GetRetentionPolicyRequest(_message.Message):
    __slots__ = ("conversation_id", "tenant_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    tenant_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class GetRetentionPolicyResponse(_message.Message):
    __slots__ = ("policy", "effective")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FIELD_NUMBER: _ClassVar[int]
    policy: RetentionPolicy
    effective: RetentionPolicy
    def __init__(self, policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ..., effective: _Optional[_Union[RetentionPolicy, _Mapping]] = ...) -> None: ...

class DeleteRetentionPolicyRequest(_message.Message):
    __slots__ = ("conversation_id", "tenant_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    tenant_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class DeleteRetentionPolicyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PreviewRetentionRequest(_message.Message):
    __slots__ = ("conversation_id", "tenant_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    tenant_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class RetentionCounts(_message.Message):
    __slots__ = ("messages", "media", "conversations", "held_conversations", "held_messages", "exports")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    HELD_CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    HELD_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    EXPORTS_FIELD_NUMBER: _ClassVar[int]
    messages: int
    media: int
    conversations: int
    held_conversations: int
    held_messages: int
    exports: int
    def __init__(self, messages: _Optional[int] = ..., media: _Optional[int] = ..., conversations: _Optional[int] = ..., held_conversations: _Optional[int] = ..., held_messages: _Optional[int] = ..., exports: _Optional[int] = ...) -> None: ...

class PreviewRetentionResponse(_message.Message):
    __slots__ = ("counts",)
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    counts: RetentionCounts
    def __init__(self, counts: _Optional[_Union[RetentionCounts, _Mapping]] = ...) -> None: ...

class RunRetentionRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class RunRetentionResponse(_message.Message):
    __slots__ = ("counts",)
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    counts: RetentionCounts
    def __init__(self, counts: _Optional[_Union[RetentionCounts, _Mapping]] = ...) -> None: ...

class LegalHold(_message.Message):
    __slots__ = ("id", "kind", "target_id", "reason", "create_time", "release_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RELEASE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: LegalHoldKind
    target_id: str
    reason: str
    create_time: _timestamp_pb2.Timestamp
    release_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[LegalHoldKind, str]] = ..., target_id: _Optional[str] = ..., reason: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., release_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PlaceLegalHoldRequest(_message.Message):
    __slots__ = ("kind", "target_id", "reason", "tenant_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    kind: LegalHoldKind
    target_id: str
    reason: str
    tenant_id: str
    def __init__(self, kind: _Optional[_Union[LegalHoldKind, str]] = ..., target_id: _Optional[str] = ..., reason: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class PlaceLegalHoldResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: LegalHold
    def __init__(self, hold: _Optional[_Union[LegalHold, _Mapping]] = ...) -> None: ...

class ReleaseLegalHoldRequest(_message.Message):
    __slots__ = ("hold_id", "tenant_id")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    tenant_id: str
    def __init__(self, hold_id: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class ReleaseLegalHoldResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: LegalHold
    def __init__(self, hold: _Optional[_Union[LegalHold, _Mapping]] = ...) -> None: ...

class ListLegalHoldsRequest(_message.Message):
    __slots__ = ("include_released", "tenant_id")
    INCLUDE_RELEASED_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    include_released: bool
    tenant_id: str
    def __init__(self, include_released: _Optional[bool] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class ListLegalHoldsResponse(_message.Message):
    __slots__ = ("holds",)
    HOLDS_FIELD_NUMBER: _ClassVar[int]
    holds: _containers.RepeatedCompositeFieldContainer[LegalHold]
    def __init__(self, holds: _Optional[_Iterable[_Union[LegalHold, _Mapping]]] = ...) -> None: ...
