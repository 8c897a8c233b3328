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
    __slots__ = ("conversations", "partitions", "schema")
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[ConversationIndexStatus]
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionIndexStatus]
    schema: IndexSchemaStatus
    def __init__(self, conversations: _Optional[_Iterable[_Union[ConversationIndexStatus, _Mapping]]] = ..., partitions: _Optional[_Iterable[_Union[PartitionIndexStatus, _Mapping]]] = ..., schema: _Optional[_Union[IndexSchemaStatus, _Mapping]] = ...) -> None: ...

class PartitionIndexStatus(_message.Message):
    __slots__ = ("partition", "committed_offset", "end_offset", "lag_events", "lag_ms")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_OFFSET_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LAG_EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAG_MS_FIELD_NUMBER: _ClassVar[int]
    partition: int
    committed_offset: int
    end_offset: int
    lag_events: int
    lag_ms: int
    def __init__(self, partition: _Optional[int] = ..., committed_offset: _Optional[int] = ..., end_offset: _Optional[int] = ..., lag_events: _Optional[int] = ..., lag_ms: _Optional[int] = ...) -> None: ...

class IndexSchemaStatus(_message.Message):
    __slots__ = ("code_version", "stored_version", "rebuilding", "documents", "current_documents", "tenants_done", "tenants_total")
    CODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    STORED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REBUILDING_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    TENANTS_DONE_FIELD_NUMBER: _ClassVar[int]
    TENANTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    code_version: int
    stored_version: int
    rebuilding: bool
    documents: int
    current_documents: int
    tenants_done: int
    tenants_total: int
    def __init__(self, code_version: _Optional[int] = ..., stored_version: _Optional[int] = ..., rebuilding: _Optional[bool] = ..., documents: _Optional[int] = ..., current_documents: _Optional[int] = ..., tenants_done: _Optional[int] = ..., tenants_total: _Optional[int] = ...) -> None: ...

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

class EraseUserDataRequest(_message.Message):
    __slots__ = ("tenant_id", "user_id", "page_size", "held_conversation_ids")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    HELD_CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_id: str
    page_size: int
    held_conversation_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., held_conversation_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class EraseUserDataResponse(_message.Message):
    __slots__ = ("documents_removed", "more")
    DOCUMENTS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    documents_removed: int
    more: bool
    def __init__(self, documents_removed: _Optional[int] = ..., more: _Optional[bool] = ...) -> None: ...

class EraseTenantDataRequest(_message.Message):
    __slots__ = ("tenant_id", "page_size")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    page_size: int
    def __init__(self, tenant_id: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class EraseTenantDataResponse(_message.Message):
    __slots__ = ("documents_removed", "more")
    DOCUMENTS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    documents_removed: int
    more: bool
    def __init__(self, documents_removed: _Optional[int] = ..., more: _Optional[bool] = ...) -> None: ...
