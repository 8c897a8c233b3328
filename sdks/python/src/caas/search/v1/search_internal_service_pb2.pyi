from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReindexRequest(_message.Message):
    __slots__ = ("tenant_id", "conversation_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    conversation_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class ReindexResponse(_message.Message):
    __slots__ = ("conversations", "events", "indexed")
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    INDEXED_FIELD_NUMBER: _ClassVar[int]
    conversations: int
    events: int
    indexed: int
    def __init__(self, conversations: _Optional[int] = ..., events: _Optional[int] = ..., indexed: _Optional[int] = ...) -> None: ...

class GetIndexStatusRequest(_message.Message):
    __slots__ = ("tenant_id", "conversation_ids")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    conversation_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., conversation_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetIndexStatusResponse(_message.Message):
    __slots__ = ("conversations",)
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[ConversationIndexStatus]
    def __init__(self, conversations: _Optional[_Iterable[_Union[ConversationIndexStatus, _Mapping]]] = ...) -> None: ...

class ConversationIndexStatus(_message.Message):
    __slots__ = ("conversation_id", "indexed_seq", "head_seq", "lag_events", "since_last_applied_ms")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    INDEXED_SEQ_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAG_EVENTS_FIELD_NUMBER: _ClassVar[int]
    SINCE_LAST_APPLIED_MS_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    indexed_seq: int
    head_seq: int
    lag_events: int
    since_last_applied_ms: int
    def __init__(self, conversation_id: _Optional[str] = ..., indexed_seq: _Optional[int] = ..., head_seq: _Optional[int] = ..., lag_events: _Optional[int] = ..., since_last_applied_ms: _Optional[int] = ...) -> None: ...
