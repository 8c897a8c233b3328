import datetime

from buf.validate import validate_pb2 as _validate_pb2
from caas.chat.v1 import member_pb2 as _member_pb2
from caas.chat.v1 import read_state_pb2 as _read_state_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConversationType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONVERSATION_TYPE_UNSPECIFIED: _ClassVar[ConversationType]
    CONVERSATION_TYPE_DIRECT: _ClassVar[ConversationType]
    CONVERSATION_TYPE_GROUP: _ClassVar[ConversationType]
    CONVERSATION_TYPE_CHANNEL: _ClassVar[ConversationType]

class JoinPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOIN_POLICY_UNSPECIFIED: _ClassVar[JoinPolicy]
    JOIN_POLICY_OPEN: _ClassVar[JoinPolicy]
    JOIN_POLICY_INVITE_ONLY: _ClassVar[JoinPolicy]
    JOIN_POLICY_CLOSED: _ClassVar[JoinPolicy]
CONVERSATION_TYPE_UNSPECIFIED: ConversationType
CONVERSATION_TYPE_DIRECT: ConversationType
CONVERSATION_TYPE_GROUP: ConversationType
CONVERSATION_TYPE_CHANNEL: ConversationType
JOIN_POLICY_UNSPECIFIED: JoinPolicy
JOIN_POLICY_OPEN: JoinPolicy
JOIN_POLICY_INVITE_ONLY: JoinPolicy
JOIN_POLICY_CLOSED: JoinPolicy

class Conversation(_message.Message):
    __slots__ = ("id", "type", "title", "avatar_url", "custom", "created_by", "create_time", "update_time", "archived", "frozen", "last_seq", "last_message", "member_count", "join_policy", "last_activity_time", "end_to_end_encrypted")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    AVATAR_URL_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    FROZEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    JOIN_POLICY_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TO_END_ENCRYPTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: ConversationType
    title: str
    avatar_url: str
    custom: _struct_pb2.Struct
    created_by: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    archived: bool
    frozen: bool
    last_seq: int
    last_message: MessageSummary
    member_count: int
    join_policy: JoinPolicy
    last_activity_time: _timestamp_pb2.Timestamp
    end_to_end_encrypted: bool
    def __init__(self, id: _Optional[str] = ..., type: _Optional[_Union[ConversationType, str]] = ..., title: _Optional[str] = ..., avatar_url: _Optional[str] = ..., custom: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., archived: _Optional[bool] = ..., frozen: _Optional[bool] = ..., last_seq: _Optional[int] = ..., last_message: _Optional[_Union[MessageSummary, _Mapping]] = ..., member_count: _Optional[int] = ..., join_policy: _Optional[_Union[JoinPolicy, str]] = ..., last_activity_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_to_end_encrypted: _Optional[bool] = ...) -> None: ...

class MessageSummary(_message.Message):
    __slots__ = ("message_id", "seq", "sender_id", "text_preview", "attachment_count", "create_time", "deleted")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SENDER_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_PREVIEW_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    seq: int
    sender_id: str
    text_preview: str
    attachment_count: int
    create_time: _timestamp_pb2.Timestamp
    deleted: bool
    def __init__(self, message_id: _Optional[str] = ..., seq: _Optional[int] = ..., sender_id: _Optional[str] = ..., text_preview: _Optional[str] = ..., attachment_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deleted: _Optional[bool] = ...) -> None: ...

class ConversationView(_message.Message):
    __slots__ = ("conversation", "membership", "read_state")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_FIELD_NUMBER: _ClassVar[int]
    READ_STATE_FIELD_NUMBER: _ClassVar[int]
    conversation: Conversation
    membership: _member_pb2.Member
    read_state: _read_state_pb2.ReadState
    def __init__(self, conversation: _Optional[_Union[Conversation, _Mapping]] = ..., membership: _Optional[_Union[_member_pb2.Member, _Mapping]] = ..., read_state: _Optional[_Union[_read_state_pb2.ReadState, _Mapping]] = ...) -> None: ...
