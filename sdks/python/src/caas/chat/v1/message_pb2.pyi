import datetime

from buf.validate import validate_pb2 as _validate_pb2
from caas.chat.v1 import encrypted_pb2 as _encrypted_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Message(_message.Message):
    __slots__ = ("id", "conversation_id", "seq", "sender_id", "client_message_id", "text", "mentioned_user_ids", "custom", "attachments", "reply_to_message_id", "thread_parent_id", "forwarded_from", "create_time", "edit_time", "deleted", "reactions", "thread", "pinned", "encrypted")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SENDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MENTIONED_USER_IDS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    REPLY_TO_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    THREAD_PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    FORWARDED_FROM_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EDIT_TIME_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    REACTIONS_FIELD_NUMBER: _ClassVar[int]
    THREAD_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    conversation_id: str
    seq: int
    sender_id: str
    client_message_id: str
    text: str
    mentioned_user_ids: _containers.RepeatedScalarFieldContainer[str]
    custom: _struct_pb2.Struct
    attachments: _containers.RepeatedCompositeFieldContainer[Attachment]
    reply_to_message_id: str
    thread_parent_id: str
    forwarded_from: ForwardedFrom
    create_time: _timestamp_pb2.Timestamp
    edit_time: _timestamp_pb2.Timestamp
    deleted: bool
    reactions: _containers.RepeatedCompositeFieldContainer[ReactionCount]
    thread: ThreadSummary
    pinned: bool
    encrypted: _encrypted_pb2.EncryptedContent
    def __init__(self, id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., seq: _Optional[int] = ..., sender_id: _Optional[str] = ..., client_message_id: _Optional[str] = ..., text: _Optional[str] = ..., mentioned_user_ids: _Optional[_Iterable[str]] = ..., custom: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., attachments: _Optional[_Iterable[_Union[Attachment, _Mapping]]] = ..., reply_to_message_id: _Optional[str] = ..., thread_parent_id: _Optional[str] = ..., forwarded_from: _Optional[_Union[ForwardedFrom, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., edit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deleted: _Optional[bool] = ..., reactions: _Optional[_Iterable[_Union[ReactionCount, _Mapping]]] = ..., thread: _Optional[_Union[ThreadSummary, _Mapping]] = ..., pinned: _Optional[bool] = ..., encrypted: _Optional[_Union[_encrypted_pb2.EncryptedContent, _Mapping]] = ...) -> None: ...

class Attachment(_message.Message):
    __slots__ = ("media_id", "mime_type", "size_bytes", "name")
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    mime_type: str
    size_bytes: int
    name: str
    def __init__(self, media_id: _Optional[str] = ..., mime_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class ForwardedFrom(_message.Message):
    __slots__ = ("conversation_id", "message_id", "sender_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    message_id: str
    sender_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., message_id: _Optional[str] = ..., sender_id: _Optional[str] = ...) -> None: ...

class ReactionCount(_message.Message):
    __slots__ = ("reaction", "count", "reacted")
    REACTION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    REACTED_FIELD_NUMBER: _ClassVar[int]
    reaction: str
    count: int
    reacted: bool
    def __init__(self, reaction: _Optional[str] = ..., count: _Optional[int] = ..., reacted: _Optional[bool] = ...) -> None: ...

class ThreadSummary(_message.Message):
    __slots__ = ("reply_count", "last_reply_seq", "last_reply_time", "participant_ids")
    REPLY_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_REPLY_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_REPLY_TIME_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_IDS_FIELD_NUMBER: _ClassVar[int]
    reply_count: int
    last_reply_seq: int
    last_reply_time: _timestamp_pb2.Timestamp
    participant_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, reply_count: _Optional[int] = ..., last_reply_seq: _Optional[int] = ..., last_reply_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., participant_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PinnedMessage(_message.Message):
    __slots__ = ("message", "pinned_by", "pin_time")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PINNED_BY_FIELD_NUMBER: _ClassVar[int]
    PIN_TIME_FIELD_NUMBER: _ClassVar[int]
    message: Message
    pinned_by: str
    pin_time: _timestamp_pb2.Timestamp
    def __init__(self, message: _Optional[_Union[Message, _Mapping]] = ..., pinned_by: _Optional[str] = ..., pin_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MessageRevision(_message.Message):
    __slots__ = ("seq", "text", "mentioned_user_ids", "custom", "create_time", "encrypted")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MENTIONED_USER_IDS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_FIELD_NUMBER: _ClassVar[int]
    seq: int
    text: str
    mentioned_user_ids: _containers.RepeatedScalarFieldContainer[str]
    custom: _struct_pb2.Struct
    create_time: _timestamp_pb2.Timestamp
    encrypted: _encrypted_pb2.EncryptedContent
    def __init__(self, seq: _Optional[int] = ..., text: _Optional[str] = ..., mentioned_user_ids: _Optional[_Iterable[str]] = ..., custom: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., encrypted: _Optional[_Union[_encrypted_pb2.EncryptedContent, _Mapping]] = ...) -> None: ...
