import datetime

from buf.validate import validate_pb2 as _validate_pb2
from caas.chat.v1 import changes_pb2 as _changes_pb2
from caas.chat.v1 import event_pb2 as _event_pb2
from caas.chat.v1 import message_pb2 as _message_pb2
from caas.chat.v1 import read_state_pb2 as _read_state_pb2
from caas.crypto.v1 import device_keys_pb2 as _device_keys_pb2
from caas.search.v1 import search_service_pb2 as _search_service_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PresenceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRESENCE_STATUS_UNSPECIFIED: _ClassVar[PresenceStatus]
    PRESENCE_STATUS_ONLINE: _ClassVar[PresenceStatus]
    PRESENCE_STATUS_OFFLINE: _ClassVar[PresenceStatus]

class CloseCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLOSE_CODE_UNSPECIFIED: _ClassVar[CloseCode]
    CLOSE_CODE_AUTH_FAILED: _ClassVar[CloseCode]
    CLOSE_CODE_AUTH_TIMEOUT: _ClassVar[CloseCode]
    CLOSE_CODE_TOKEN_EXPIRED: _ClassVar[CloseCode]
    CLOSE_CODE_REVOKED: _ClassVar[CloseCode]
    CLOSE_CODE_SLOW_CONSUMER: _ClassVar[CloseCode]
    CLOSE_CODE_FRAME_TOO_LARGE: _ClassVar[CloseCode]
    CLOSE_CODE_RATE_LIMITED: _ClassVar[CloseCode]
    CLOSE_CODE_TOO_MANY_CONNECTIONS: _ClassVar[CloseCode]
    CLOSE_CODE_SERVER_SHUTDOWN: _ClassVar[CloseCode]
    CLOSE_CODE_PROTOCOL_ERROR: _ClassVar[CloseCode]
    CLOSE_CODE_HEARTBEAT_TIMEOUT: _ClassVar[CloseCode]
    CLOSE_CODE_INTERNAL_ERROR: _ClassVar[CloseCode]
PRESENCE_STATUS_UNSPECIFIED: PresenceStatus
PRESENCE_STATUS_ONLINE: PresenceStatus
PRESENCE_STATUS_OFFLINE: PresenceStatus
CLOSE_CODE_UNSPECIFIED: CloseCode
CLOSE_CODE_AUTH_FAILED: CloseCode
CLOSE_CODE_AUTH_TIMEOUT: CloseCode
CLOSE_CODE_TOKEN_EXPIRED: CloseCode
CLOSE_CODE_REVOKED: CloseCode
CLOSE_CODE_SLOW_CONSUMER: CloseCode
CLOSE_CODE_FRAME_TOO_LARGE: CloseCode
CLOSE_CODE_RATE_LIMITED: CloseCode
CLOSE_CODE_TOO_MANY_CONNECTIONS: CloseCode
CLOSE_CODE_SERVER_SHUTDOWN: CloseCode
CLOSE_CODE_PROTOCOL_ERROR: CloseCode
CLOSE_CODE_HEARTBEAT_TIMEOUT: CloseCode
CLOSE_CODE_INTERNAL_ERROR: CloseCode

class ClientFrame(_message.Message):
    __slots__ = ("id", "auth", "reauth", "send", "typing", "mark_read", "mark_delivered", "resume", "subscribe_presence", "ping", "search_messages", "search_conversations", "search_users")
    ID_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    REAUTH_FIELD_NUMBER: _ClassVar[int]
    SEND_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    MARK_READ_FIELD_NUMBER: _ClassVar[int]
    MARK_DELIVERED_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBE_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    SEARCH_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SEARCH_CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    SEARCH_USERS_FIELD_NUMBER: _ClassVar[int]
    id: int
    auth: Auth
    reauth: ReAuth
    send: SendMessage
    typing: SetTyping
    mark_read: MarkRead
    mark_delivered: MarkDelivered
    resume: Resume
    subscribe_presence: SubscribePresence
    ping: Ping
    search_messages: _search_service_pb2.SearchMessagesRequest
    search_conversations: _search_service_pb2.SearchConversationsRequest
    search_users: _search_service_pb2.SearchUsersRequest
    def __init__(self, id: _Optional[int] = ..., auth: _Optional[_Union[Auth, _Mapping]] = ..., reauth: _Optional[_Union[ReAuth, _Mapping]] = ..., send: _Optional[_Union[SendMessage, _Mapping]] = ..., typing: _Optional[_Union[SetTyping, _Mapping]] = ..., mark_read: _Optional[_Union[MarkRead, _Mapping]] = ..., mark_delivered: _Optional[_Union[MarkDelivered, _Mapping]] = ..., resume: _Optional[_Union[Resume, _Mapping]] = ..., subscribe_presence: _Optional[_Union[SubscribePresence, _Mapping]] = ..., ping: _Optional[_Union[Ping, _Mapping]] = ..., search_messages: _Optional[_Union[_search_service_pb2.SearchMessagesRequest, _Mapping]] = ..., search_conversations: _Optional[_Union[_search_service_pb2.SearchConversationsRequest, _Mapping]] = ..., search_users: _Optional[_Union[_search_service_pb2.SearchUsersRequest, _Mapping]] = ...) -> None: ...

class ServerFrame(_message.Message):
    __slots__ = ("reply_to", "auth_ok", "send_ack", "ack", "event", "typing", "presence", "receipt", "read_state", "changes", "resume_done", "checkpoint", "pong", "error", "closing", "block_changed", "search_messages", "search_conversations", "search_users", "prekeys_low", "keys_changed")
    REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    AUTH_OK_FIELD_NUMBER: _ClassVar[int]
    SEND_ACK_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    READ_STATE_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    RESUME_DONE_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CLOSING_FIELD_NUMBER: _ClassVar[int]
    BLOCK_CHANGED_FIELD_NUMBER: _ClassVar[int]
    SEARCH_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SEARCH_CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    SEARCH_USERS_FIELD_NUMBER: _ClassVar[int]
    PREKEYS_LOW_FIELD_NUMBER: _ClassVar[int]
    KEYS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    reply_to: int
    auth_ok: AuthOk
    send_ack: SendAck
    ack: Ack
    event: _event_pb2.Event
    typing: Typing
    presence: Presence
    receipt: _read_state_pb2.Receipt
    read_state: _read_state_pb2.ReadState
    changes: _changes_pb2.ConversationChanges
    resume_done: ResumeDone
    checkpoint: Checkpoint
    pong: Pong
    error: FrameError
    closing: Closing
    block_changed: BlockChanged
    search_messages: _search_service_pb2.SearchMessagesResponse
    search_conversations: _search_service_pb2.SearchConversationsResponse
    search_users: _search_service_pb2.SearchUsersResponse
    prekeys_low: PreKeysLow
    keys_changed: KeysChanged
    def __init__(self, reply_to: _Optional[int] = ..., auth_ok: _Optional[_Union[AuthOk, _Mapping]] = ..., send_ack: _Optional[_Union[SendAck, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., event: _Optional[_Union[_event_pb2.Event, _Mapping]] = ..., typing: _Optional[_Union[Typing, _Mapping]] = ..., presence: _Optional[_Union[Presence, _Mapping]] = ..., receipt: _Optional[_Union[_read_state_pb2.Receipt, _Mapping]] = ..., read_state: _Optional[_Union[_read_state_pb2.ReadState, _Mapping]] = ..., changes: _Optional[_Union[_changes_pb2.ConversationChanges, _Mapping]] = ..., resume_done: _Optional[_Union[ResumeDone, _Mapping]] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ..., pong: _Optional[_Union[Pong, _Mapping]] = ..., error: _Optional[_Union[FrameError, _Mapping]] = ..., closing: _Optional[_Union[Closing, _Mapping]] = ..., block_changed: _Optional[_Union[BlockChanged, _Mapping]] = ..., search_messages: _Optional[_Union[_search_service_pb2.SearchMessagesResponse, _Mapping]] = ..., search_conversations: _Optional[_Union[_search_service_pb2.SearchConversationsResponse, _Mapping]] = ..., search_users: _Optional[_Union[_search_service_pb2.SearchUsersResponse, _Mapping]] = ..., prekeys_low: _Optional[_Union[PreKeysLow, _Mapping]] = ..., keys_changed: _Optional[_Union[KeysChanged, _Mapping]] = ...) -> None: ...

class Auth(_message.Message):
    __slots__ = ("access_token",)
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    def __init__(self, access_token: _Optional[str] = ...) -> None: ...

class ReAuth(_message.Message):
    __slots__ = ("access_token",)
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    def __init__(self, access_token: _Optional[str] = ...) -> None: ...

class SendMessage(_message.Message):
    __slots__ = ("conversation_id", "client_message_id", "text", "mentioned_user_ids", "custom", "attachments", "reply_to_message_id", "thread_parent_id", "previous_attempts")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MENTIONED_USER_IDS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    REPLY_TO_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    THREAD_PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    client_message_id: str
    text: str
    mentioned_user_ids: _containers.RepeatedScalarFieldContainer[str]
    custom: _struct_pb2.Struct
    attachments: _containers.RepeatedCompositeFieldContainer[_message_pb2.Attachment]
    reply_to_message_id: str
    thread_parent_id: str
    previous_attempts: int
    def __init__(self, conversation_id: _Optional[str] = ..., client_message_id: _Optional[str] = ..., text: _Optional[str] = ..., mentioned_user_ids: _Optional[_Iterable[str]] = ..., custom: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., attachments: _Optional[_Iterable[_Union[_message_pb2.Attachment, _Mapping]]] = ..., reply_to_message_id: _Optional[str] = ..., thread_parent_id: _Optional[str] = ..., previous_attempts: _Optional[int] = ...) -> None: ...

class SetTyping(_message.Message):
    __slots__ = ("conversation_id", "started")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    started: bool
    def __init__(self, conversation_id: _Optional[str] = ..., started: _Optional[bool] = ...) -> None: ...

class MarkRead(_message.Message):
    __slots__ = ("conversation_id", "seq")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    seq: int
    def __init__(self, conversation_id: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class MarkDelivered(_message.Message):
    __slots__ = ("conversation_id", "seq")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    seq: int
    def __init__(self, conversation_id: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class Resume(_message.Message):
    __slots__ = ("cursor", "per_conversation_limit", "positions")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    PER_CONVERSATION_LIMIT_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    per_conversation_limit: int
    positions: _containers.RepeatedCompositeFieldContainer[_changes_pb2.ConversationPosition]
    def __init__(self, cursor: _Optional[str] = ..., per_conversation_limit: _Optional[int] = ..., positions: _Optional[_Iterable[_Union[_changes_pb2.ConversationPosition, _Mapping]]] = ...) -> None: ...

class SubscribePresence(_message.Message):
    __slots__ = ("user_ids",)
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Ping(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: int
    def __init__(self, nonce: _Optional[int] = ...) -> None: ...

class AuthOk(_message.Message):
    __slots__ = ("user_id", "session_id", "connection_id", "expire_time", "heartbeat_interval", "max_frame_bytes")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAME_BYTES_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    session_id: str
    connection_id: str
    expire_time: _timestamp_pb2.Timestamp
    heartbeat_interval: _duration_pb2.Duration
    max_frame_bytes: int
    def __init__(self, user_id: _Optional[str] = ..., session_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_frame_bytes: _Optional[int] = ...) -> None: ...

class SendAck(_message.Message):
    __slots__ = ("message_id", "seq", "create_time", "duplicate")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    seq: int
    create_time: _timestamp_pb2.Timestamp
    duplicate: bool
    def __init__(self, message_id: _Optional[str] = ..., seq: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Typing(_message.Message):
    __slots__ = ("conversation_id", "user_id", "started", "expire_time")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    user_id: str
    started: bool
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, conversation_id: _Optional[str] = ..., user_id: _Optional[str] = ..., started: _Optional[bool] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Presence(_message.Message):
    __slots__ = ("user_id", "status", "last_seen_time")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_TIME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    status: PresenceStatus
    last_seen_time: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., status: _Optional[_Union[PresenceStatus, str]] = ..., last_seen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ResumeDone(_message.Message):
    __slots__ = ("cursor",)
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    def __init__(self, cursor: _Optional[str] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("cursor",)
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    def __init__(self, cursor: _Optional[str] = ...) -> None: ...

class Pong(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: int
    def __init__(self, nonce: _Optional[int] = ...) -> None: ...

class BlockChanged(_message.Message):
    __slots__ = ("user_id", "blocked", "update_time")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    blocked: bool
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., blocked: _Optional[bool] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PreKeysLow(_message.Message):
    __slots__ = ("device_id", "remaining", "threshold")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    device_id: int
    remaining: int
    threshold: int
    def __init__(self, device_id: _Optional[int] = ..., remaining: _Optional[int] = ..., threshold: _Optional[int] = ...) -> None: ...

class KeysChanged(_message.Message):
    __slots__ = ("user_id", "device_id", "kind", "change_seq")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CHANGE_SEQ_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    device_id: int
    kind: _device_keys_pb2.DeviceChangeKind
    change_seq: int
    def __init__(self, user_id: _Optional[str] = ..., device_id: _Optional[int] = ..., kind: _Optional[_Union[_device_keys_pb2.DeviceChangeKind, str]] = ..., change_seq: _Optional[int] = ...) -> None: ...

class FrameError(_message.Message):
    __slots__ = ("code", "message", "retry_after", "violations")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    retry_after: _duration_pb2.Duration
    violations: _validate_pb2.Violations
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., violations: _Optional[_Union[_validate_pb2.Violations, _Mapping]] = ...) -> None: ...

class Closing(_message.Message):
    __slots__ = ("code", "reason", "retry_after")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    code: CloseCode
    reason: str
    retry_after: _duration_pb2.Duration
    def __init__(self, code: _Optional[_Union[CloseCode, str]] = ..., reason: _Optional[str] = ..., retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
