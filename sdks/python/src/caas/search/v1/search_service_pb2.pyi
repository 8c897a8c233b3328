import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MessageOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_ORDER_UNSPECIFIED: _ClassVar[MessageOrder]
    MESSAGE_ORDER_RELEVANCE: _ClassVar[MessageOrder]
    MESSAGE_ORDER_NEWEST: _ClassVar[MessageOrder]
MESSAGE_ORDER_UNSPECIFIED: MessageOrder
MESSAGE_ORDER_RELEVANCE: MessageOrder
MESSAGE_ORDER_NEWEST: MessageOrder

class SearchMessagesRequest(_message.Message):
    __slots__ = ("query", "conversation_ids", "sender_ids", "sent_after", "sent_before", "page_size", "page_token", "has_attachments", "order")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    SENDER_IDS_FIELD_NUMBER: _ClassVar[int]
    SENT_AFTER_FIELD_NUMBER: _ClassVar[int]
    SENT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    HAS_ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    query: str
    conversation_ids: _containers.RepeatedScalarFieldContainer[str]
    sender_ids: _containers.RepeatedScalarFieldContainer[str]
    sent_after: _timestamp_pb2.Timestamp
    sent_before: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    has_attachments: bool
    order: MessageOrder
    def __init__(self, query: _Optional[str] = ..., conversation_ids: _Optional[_Iterable[str]] = ..., sender_ids: _Optional[_Iterable[str]] = ..., sent_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sent_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., has_attachments: _Optional[bool] = ..., order: _Optional[_Union[MessageOrder, str]] = ...) -> None: ...

class SearchMessagesResponse(_message.Message):
    __slots__ = ("hits", "next_page_token")
    HITS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[MessageHit]
    next_page_token: str
    def __init__(self, hits: _Optional[_Iterable[_Union[MessageHit, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MessageHit(_message.Message):
    __slots__ = ("message_id", "conversation_id", "seq", "sender_id", "create_time", "snippet")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SENDER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    conversation_id: str
    seq: int
    sender_id: str
    create_time: _timestamp_pb2.Timestamp
    snippet: Snippet
    def __init__(self, message_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., seq: _Optional[int] = ..., sender_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., snippet: _Optional[_Union[Snippet, _Mapping]] = ...) -> None: ...

class Snippet(_message.Message):
    __slots__ = ("text", "highlights")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    HIGHLIGHTS_FIELD_NUMBER: _ClassVar[int]
    text: str
    highlights: _containers.RepeatedCompositeFieldContainer[HighlightRange]
    def __init__(self, text: _Optional[str] = ..., highlights: _Optional[_Iterable[_Union[HighlightRange, _Mapping]]] = ...) -> None: ...

class HighlightRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class SearchConversationsRequest(_message.Message):
    __slots__ = ("query", "page_size", "page_token")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    query: str
    page_size: int
    page_token: str
    def __init__(self, query: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SearchConversationsResponse(_message.Message):
    __slots__ = ("conversations", "next_page_token")
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[ConversationHit]
    next_page_token: str
    def __init__(self, conversations: _Optional[_Iterable[_Union[ConversationHit, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ConversationHit(_message.Message):
    __slots__ = ("conversation_id", "title", "highlights")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    HIGHLIGHTS_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    title: str
    highlights: _containers.RepeatedCompositeFieldContainer[HighlightRange]
    def __init__(self, conversation_id: _Optional[str] = ..., title: _Optional[str] = ..., highlights: _Optional[_Iterable[_Union[HighlightRange, _Mapping]]] = ...) -> None: ...

class SearchUsersRequest(_message.Message):
    __slots__ = ("query", "page_size", "page_token")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    query: str
    page_size: int
    page_token: str
    def __init__(self, query: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SearchUsersResponse(_message.Message):
    __slots__ = ("users", "next_page_token")
    USERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[UserHit]
    next_page_token: str
    def __init__(self, users: _Optional[_Iterable[_Union[UserHit, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UserHit(_message.Message):
    __slots__ = ("user_id", "display_name", "avatar_url")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    AVATAR_URL_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    display_name: str
    avatar_url: str
    def __init__(self, user_id: _Optional[str] = ..., display_name: _Optional[str] = ..., avatar_url: _Optional[str] = ...) -> None: ...
