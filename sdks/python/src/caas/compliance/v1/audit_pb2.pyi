import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuditSubjectForm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_SUBJECT_FORM_UNSPECIFIED: _ClassVar[AuditSubjectForm]
    AUDIT_SUBJECT_FORM_PSEUDONYM: _ClassVar[AuditSubjectForm]

class AuditActorKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_ACTOR_KIND_UNSPECIFIED: _ClassVar[AuditActorKind]
    AUDIT_ACTOR_KIND_USER: _ClassVar[AuditActorKind]
    AUDIT_ACTOR_KIND_API_KEY: _ClassVar[AuditActorKind]
    AUDIT_ACTOR_KIND_SERVICE: _ClassVar[AuditActorKind]
    AUDIT_ACTOR_KIND_PLATFORM_ADMIN: _ClassVar[AuditActorKind]

class AuditOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_OUTCOME_UNSPECIFIED: _ClassVar[AuditOutcome]
    AUDIT_OUTCOME_SUCCESS: _ClassVar[AuditOutcome]
    AUDIT_OUTCOME_FAILURE: _ClassVar[AuditOutcome]

class AuditBreakReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_BREAK_REASON_UNSPECIFIED: _ClassVar[AuditBreakReason]
    AUDIT_BREAK_REASON_CHANGED: _ClassVar[AuditBreakReason]
    AUDIT_BREAK_REASON_MISSING: _ClassVar[AuditBreakReason]
    AUDIT_BREAK_REASON_REORDERED: _ClassVar[AuditBreakReason]
    AUDIT_BREAK_REASON_INSERTED: _ClassVar[AuditBreakReason]
    AUDIT_BREAK_REASON_BAD_SIGNATURE: _ClassVar[AuditBreakReason]
    AUDIT_BREAK_REASON_CHECKPOINT_MISMATCH: _ClassVar[AuditBreakReason]
AUDIT_SUBJECT_FORM_UNSPECIFIED: AuditSubjectForm
AUDIT_SUBJECT_FORM_PSEUDONYM: AuditSubjectForm
AUDIT_ACTOR_KIND_UNSPECIFIED: AuditActorKind
AUDIT_ACTOR_KIND_USER: AuditActorKind
AUDIT_ACTOR_KIND_API_KEY: AuditActorKind
AUDIT_ACTOR_KIND_SERVICE: AuditActorKind
AUDIT_ACTOR_KIND_PLATFORM_ADMIN: AuditActorKind
AUDIT_OUTCOME_UNSPECIFIED: AuditOutcome
AUDIT_OUTCOME_SUCCESS: AuditOutcome
AUDIT_OUTCOME_FAILURE: AuditOutcome
AUDIT_BREAK_REASON_UNSPECIFIED: AuditBreakReason
AUDIT_BREAK_REASON_CHANGED: AuditBreakReason
AUDIT_BREAK_REASON_MISSING: AuditBreakReason
AUDIT_BREAK_REASON_REORDERED: AuditBreakReason
AUDIT_BREAK_REASON_INSERTED: AuditBreakReason
AUDIT_BREAK_REASON_BAD_SIGNATURE: AuditBreakReason
AUDIT_BREAK_REASON_CHECKPOINT_MISMATCH: AuditBreakReason

class AuditEvent(_message.Message):
    __slots__ = ("tenant_id", "position", "source_event_id", "source", "event_time", "actor", "action", "target", "outcome", "correlation_id", "details", "record_time", "subject_form", "hash")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    RECORD_TIME_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FORM_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    position: int
    source_event_id: str
    source: str
    event_time: _timestamp_pb2.Timestamp
    actor: AuditActor
    action: str
    target: AuditTarget
    outcome: AuditOutcome
    correlation_id: str
    details: _containers.RepeatedCompositeFieldContainer[AuditDetail]
    record_time: _timestamp_pb2.Timestamp
    subject_form: AuditSubjectForm
    hash: bytes
    def __init__(self, tenant_id: _Optional[str] = ..., position: _Optional[int] = ..., source_event_id: _Optional[str] = ..., source: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[_Union[AuditActor, _Mapping]] = ..., action: _Optional[str] = ..., target: _Optional[_Union[AuditTarget, _Mapping]] = ..., outcome: _Optional[_Union[AuditOutcome, str]] = ..., correlation_id: _Optional[str] = ..., details: _Optional[_Iterable[_Union[AuditDetail, _Mapping]]] = ..., record_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., subject_form: _Optional[_Union[AuditSubjectForm, str]] = ..., hash: _Optional[bytes] = ...) -> None: ...

class AuditActor(_message.Message):
    __slots__ = ("kind", "id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    kind: AuditActorKind
    id: str
    def __init__(self, kind: _Optional[_Union[AuditActorKind, str]] = ..., id: _Optional[str] = ...) -> None: ...

class AuditTarget(_message.Message):
    __slots__ = ("type", "id", "conversation_id")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    type: str
    id: str
    conversation_id: str
    def __init__(self, type: _Optional[str] = ..., id: _Optional[str] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class AuditDetail(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class AuditCheckpoint(_message.Message):
    __slots__ = ("tenant_id", "position", "head_hash", "create_time", "key_id", "signature")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    position: int
    head_hash: bytes
    create_time: _timestamp_pb2.Timestamp
    key_id: str
    signature: bytes
    def __init__(self, tenant_id: _Optional[str] = ..., position: _Optional[int] = ..., head_hash: _Optional[bytes] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., key_id: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class AuditPublicKey(_message.Message):
    __slots__ = ("key_id", "algorithm", "public_key", "create_time")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    algorithm: str
    public_key: bytes
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., algorithm: _Optional[str] = ..., public_key: _Optional[bytes] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
