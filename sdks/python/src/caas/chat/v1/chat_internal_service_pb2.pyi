import datetime

from buf.validate import validate_pb2 as _validate_pb2
from caas.chat.v1 import conversation_pb2 as _conversation_pb2
from caas.chat.v1 import event_pb2 as _event_pb2
from caas.chat.v1 import member_pb2 as _member_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EraseTenantDataRequest(_message.Message):
    __slots__ = ("tenant_id", "page_size")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    page_size: int
    def __init__(self, tenant_id: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class EraseTenantDataResponse(_message.Message):
    __slots__ = ("rows_removed", "more")
    ROWS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    rows_removed: int
    more: bool
    def __init__(self, rows_removed: _Optional[int] = ..., more: _Optional[bool] = ...) -> None: ...

class CheckAccessRequest(_message.Message):
    __slots__ = ("tenant_id", "user_id", "conversation_ids")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_id: str
    conversation_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., conversation_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CheckAccessResponse(_message.Message):
    __slots__ = ("accesses",)
    ACCESSES_FIELD_NUMBER: _ClassVar[int]
    accesses: _containers.RepeatedCompositeFieldContainer[ConversationAccess]
    def __init__(self, accesses: _Optional[_Iterable[_Union[ConversationAccess, _Mapping]]] = ...) -> None: ...

class ConversationAccess(_message.Message):
    __slots__ = ("conversation_id", "member", "first_visible_seq", "last_visible_seq")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    FIRST_VISIBLE_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_VISIBLE_SEQ_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    member: _member_pb2.Member
    first_visible_seq: int
    last_visible_seq: int
    def __init__(self, conversation_id: _Optional[str] = ..., member: _Optional[_Union[_member_pb2.Member, _Mapping]] = ..., first_visible_seq: _Optional[int] = ..., last_visible_seq: _Optional[int] = ...) -> None: ...

class GetConversationMembersRequest(_message.Message):
    __slots__ = ("tenant_id", "conversation_id", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    conversation_id: str
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetConversationMembersResponse(_message.Message):
    __slots__ = ("members", "next_page_token", "as_of_seq")
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AS_OF_SEQ_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[_member_pb2.Member]
    next_page_token: str
    as_of_seq: int
    def __init__(self, members: _Optional[_Iterable[_Union[_member_pb2.Member, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., as_of_seq: _Optional[int] = ...) -> None: ...

class ListMembershipsRequest(_message.Message):
    __slots__ = ("tenant_id", "user_id", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMembershipsResponse(_message.Message):
    __slots__ = ("memberships", "next_page_token")
    MEMBERSHIPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    memberships: _containers.RepeatedCompositeFieldContainer[_member_pb2.Member]
    next_page_token: str
    def __init__(self, memberships: _Optional[_Iterable[_Union[_member_pb2.Member, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SyncInternalRequest(_message.Message):
    __slots__ = ("tenant_id", "conversation_id", "after_seq", "limit")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    conversation_id: str
    after_seq: int
    limit: int
    def __init__(self, tenant_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., after_seq: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class SyncInternalResponse(_message.Message):
    __slots__ = ("events", "has_more", "first_available_seq", "head_seq")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    FIRST_AVAILABLE_SEQ_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_event_pb2.Event]
    has_more: bool
    first_available_seq: int
    head_seq: int
    def __init__(self, events: _Optional[_Iterable[_Union[_event_pb2.Event, _Mapping]]] = ..., has_more: _Optional[bool] = ..., first_available_seq: _Optional[int] = ..., head_seq: _Optional[int] = ...) -> None: ...

class ScanConversationsRequest(_message.Message):
    __slots__ = ("tenant_id", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ScanConversationsResponse(_message.Message):
    __slots__ = ("conversations", "next_page_token")
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[_conversation_pb2.Conversation]
    next_page_token: str
    def __init__(self, conversations: _Optional[_Iterable[_Union[_conversation_pb2.Conversation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListReadableConversationsRequest(_message.Message):
    __slots__ = ("tenant_id", "user_id", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReadableConversationsResponse(_message.Message):
    __slots__ = ("conversations", "next_page_token")
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[ReadableConversation]
    next_page_token: str
    def __init__(self, conversations: _Optional[_Iterable[_Union[ReadableConversation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReadableConversation(_message.Message):
    __slots__ = ("conversation_id", "title", "first_visible_seq", "last_visible_seq")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    FIRST_VISIBLE_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_VISIBLE_SEQ_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    title: str
    first_visible_seq: int
    last_visible_seq: int
    def __init__(self, conversation_id: _Optional[str] = ..., title: _Optional[str] = ..., first_visible_seq: _Optional[int] = ..., last_visible_seq: _Optional[int] = ...) -> None: ...

class ExportUserDataRequest(_message.Message):
    __slots__ = ("tenant_id", "user_id", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ExportUserDataResponse(_message.Message):
    __slots__ = ("json_lines", "next_page_token")
    JSON_LINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    json_lines: _containers.RepeatedScalarFieldContainer[str]
    next_page_token: str
    def __init__(self, json_lines: _Optional[_Iterable[str]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class EraseUserDataRequest(_message.Message):
    __slots__ = ("tenant_id", "user_id", "page_size", "page_token", "held_conversation_ids")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    HELD_CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_id: str
    page_size: int
    page_token: str
    held_conversation_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., held_conversation_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class EraseUserDataResponse(_message.Message):
    __slots__ = ("messages_erased", "reactions_removed", "read_states_dropped", "skipped_conversation_ids", "next_page_token")
    MESSAGES_ERASED_FIELD_NUMBER: _ClassVar[int]
    REACTIONS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    READ_STATES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    messages_erased: int
    reactions_removed: int
    read_states_dropped: int
    skipped_conversation_ids: _containers.RepeatedScalarFieldContainer[str]
    next_page_token: str
    def __init__(self, messages_erased: _Optional[int] = ..., reactions_removed: _Optional[int] = ..., read_states_dropped: _Optional[int] = ..., skipped_conversation_ids: _Optional[_Iterable[str]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ApplyRetentionRequest(_message.Message):
    __slots__ = ("tenant_id", "conversation_id", "message_before", "media_before", "held_user_ids", "dry_run", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_BEFORE_FIELD_NUMBER: _ClassVar[int]
    HELD_USER_IDS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    conversation_id: str
    message_before: _timestamp_pb2.Timestamp
    media_before: _timestamp_pb2.Timestamp
    held_user_ids: _containers.RepeatedScalarFieldContainer[str]
    dry_run: bool
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., message_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., media_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., held_user_ids: _Optional[_Iterable[str]] = ..., dry_run: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ApplyRetentionResponse(_message.Message):
    __slots__ = ("messages_expired", "messages_held", "media_ids", "next_page_token")
    MESSAGES_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_HELD_FIELD_NUMBER: _ClassVar[int]
    MEDIA_IDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    messages_expired: int
    messages_held: int
    media_ids: _containers.RepeatedScalarFieldContainer[str]
    next_page_token: str
    def __init__(self, messages_expired: _Optional[int] = ..., messages_held: _Optional[int] = ..., media_ids: _Optional[_Iterable[str]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
