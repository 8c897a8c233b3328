import datetime

from caas.chat.v1 import conversation_pb2 as _conversation_pb2
from caas.chat.v1 import encrypted_pb2 as _encrypted_pb2
from caas.chat.v1 import member_pb2 as _member_pb2
from caas.chat.v1 import message_pb2 as _message_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Event(_message.Message):
    __slots__ = ("conversation_id", "seq", "event_id", "actor_id", "create_time", "redacted", "message_created", "message_edited", "message_deleted", "reaction_added", "reaction_removed", "message_pinned", "message_unpinned", "member_joined", "member_left", "member_removed", "member_role_changed", "member_muted", "member_unmuted", "member_banned", "member_unbanned", "conversation_created", "conversation_updated", "conversation_archived", "conversation_unarchived", "conversation_frozen", "conversation_unfrozen", "conversation_deleted")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    REDACTED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_CREATED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_EDITED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_DELETED_FIELD_NUMBER: _ClassVar[int]
    REACTION_ADDED_FIELD_NUMBER: _ClassVar[int]
    REACTION_REMOVED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_PINNED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_UNPINNED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_JOINED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_LEFT_FIELD_NUMBER: _ClassVar[int]
    MEMBER_REMOVED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ROLE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_MUTED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_UNMUTED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_BANNED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_UNBANNED_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_CREATED_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_UPDATED_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_UNARCHIVED_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FROZEN_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_UNFROZEN_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_DELETED_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    seq: int
    event_id: str
    actor_id: str
    create_time: _timestamp_pb2.Timestamp
    redacted: bool
    message_created: MessageCreated
    message_edited: MessageEdited
    message_deleted: MessageDeleted
    reaction_added: ReactionAdded
    reaction_removed: ReactionRemoved
    message_pinned: MessagePinned
    message_unpinned: MessageUnpinned
    member_joined: MemberJoined
    member_left: MemberLeft
    member_removed: MemberRemoved
    member_role_changed: MemberRoleChanged
    member_muted: MemberMuted
    member_unmuted: MemberUnmuted
    member_banned: MemberBanned
    member_unbanned: MemberUnbanned
    conversation_created: ConversationCreated
    conversation_updated: ConversationUpdated
    conversation_archived: ConversationArchived
    conversation_unarchived: ConversationUnarchived
    conversation_frozen: ConversationFrozen
    conversation_unfrozen: ConversationUnfrozen
    conversation_deleted: ConversationDeleted
    def __init__(self, conversation_id: _Optional[str] = ..., seq: _Optional[int] = ..., event_id: _Optional[str] = ..., actor_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., redacted: _Optional[bool] = ..., message_created: _Optional[_Union[MessageCreated, _Mapping]] = ..., message_edited: _Optional[_Union[MessageEdited, _Mapping]] = ..., message_deleted: _Optional[_Union[MessageDeleted, _Mapping]] = ..., reaction_added: _Optional[_Union[ReactionAdded, _Mapping]] = ..., reaction_removed: _Optional[_Union[ReactionRemoved, _Mapping]] = ..., message_pinned: _Optional[_Union[MessagePinned, _Mapping]] = ..., message_unpinned: _Optional[_Union[MessageUnpinned, _Mapping]] = ..., member_joined: _Optional[_Union[MemberJoined, _Mapping]] = ..., member_left: _Optional[_Union[MemberLeft, _Mapping]] = ..., member_removed: _Optional[_Union[MemberRemoved, _Mapping]] = ..., member_role_changed: _Optional[_Union[MemberRoleChanged, _Mapping]] = ..., member_muted: _Optional[_Union[MemberMuted, _Mapping]] = ..., member_unmuted: _Optional[_Union[MemberUnmuted, _Mapping]] = ..., member_banned: _Optional[_Union[MemberBanned, _Mapping]] = ..., member_unbanned: _Optional[_Union[MemberUnbanned, _Mapping]] = ..., conversation_created: _Optional[_Union[ConversationCreated, _Mapping]] = ..., conversation_updated: _Optional[_Union[ConversationUpdated, _Mapping]] = ..., conversation_archived: _Optional[_Union[ConversationArchived, _Mapping]] = ..., conversation_unarchived: _Optional[_Union[ConversationUnarchived, _Mapping]] = ..., conversation_frozen: _Optional[_Union[ConversationFrozen, _Mapping]] = ..., conversation_unfrozen: _Optional[_Union[ConversationUnfrozen, _Mapping]] = ..., conversation_deleted: _Optional[_Union[ConversationDeleted, _Mapping]] = ...) -> None: ...

class MessageCreated(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: _message_pb2.Message
    def __init__(self, message: _Optional[_Union[_message_pb2.Message, _Mapping]] = ...) -> None: ...

class MessageEdited(_message.Message):
    __slots__ = ("message_id", "text", "mentioned_user_ids", "custom", "edit_time", "message_seq", "sender_id", "message_create_time", "message_attachment_count", "encrypted")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MENTIONED_USER_IDS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELD_NUMBER: _ClassVar[int]
    EDIT_TIME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_SEQ_FIELD_NUMBER: _ClassVar[int]
    SENDER_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ATTACHMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    text: str
    mentioned_user_ids: _containers.RepeatedScalarFieldContainer[str]
    custom: _struct_pb2.Struct
    edit_time: _timestamp_pb2.Timestamp
    message_seq: int
    sender_id: str
    message_create_time: _timestamp_pb2.Timestamp
    message_attachment_count: int
    encrypted: _encrypted_pb2.EncryptedContent
    def __init__(self, message_id: _Optional[str] = ..., text: _Optional[str] = ..., mentioned_user_ids: _Optional[_Iterable[str]] = ..., custom: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., edit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., message_seq: _Optional[int] = ..., sender_id: _Optional[str] = ..., message_create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., message_attachment_count: _Optional[int] = ..., encrypted: _Optional[_Union[_encrypted_pb2.EncryptedContent, _Mapping]] = ...) -> None: ...

class MessageDeleted(_message.Message):
    __slots__ = ("message_id", "media_ids", "message_seq", "sender_id", "message_create_time", "expired")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_IDS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_SEQ_FIELD_NUMBER: _ClassVar[int]
    SENDER_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    media_ids: _containers.RepeatedScalarFieldContainer[str]
    message_seq: int
    sender_id: str
    message_create_time: _timestamp_pb2.Timestamp
    expired: bool
    def __init__(self, message_id: _Optional[str] = ..., media_ids: _Optional[_Iterable[str]] = ..., message_seq: _Optional[int] = ..., sender_id: _Optional[str] = ..., message_create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expired: _Optional[bool] = ...) -> None: ...

class ReactionAdded(_message.Message):
    __slots__ = ("message_id", "reaction")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REACTION_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    reaction: str
    def __init__(self, message_id: _Optional[str] = ..., reaction: _Optional[str] = ...) -> None: ...

class ReactionRemoved(_message.Message):
    __slots__ = ("message_id", "reaction")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REACTION_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    reaction: str
    def __init__(self, message_id: _Optional[str] = ..., reaction: _Optional[str] = ...) -> None: ...

class MessagePinned(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class MessageUnpinned(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class MemberJoined(_message.Message):
    __slots__ = ("member", "invite_id")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    INVITE_ID_FIELD_NUMBER: _ClassVar[int]
    member: _member_pb2.Member
    invite_id: str
    def __init__(self, member: _Optional[_Union[_member_pb2.Member, _Mapping]] = ..., invite_id: _Optional[str] = ...) -> None: ...

class MemberLeft(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class MemberRemoved(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class MemberRoleChanged(_message.Message):
    __slots__ = ("user_id", "role")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    role: _member_pb2.MemberRole
    def __init__(self, user_id: _Optional[str] = ..., role: _Optional[_Union[_member_pb2.MemberRole, str]] = ...) -> None: ...

class MemberMuted(_message.Message):
    __slots__ = ("user_id", "expire_time", "reason")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    expire_time: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, user_id: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class MemberUnmuted(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class MemberBanned(_message.Message):
    __slots__ = ("user_id", "expire_time", "reason")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    expire_time: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, user_id: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class MemberUnbanned(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ConversationCreated(_message.Message):
    __slots__ = ("conversation", "members")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    conversation: _conversation_pb2.Conversation
    members: _containers.RepeatedCompositeFieldContainer[_member_pb2.Member]
    def __init__(self, conversation: _Optional[_Union[_conversation_pb2.Conversation, _Mapping]] = ..., members: _Optional[_Iterable[_Union[_member_pb2.Member, _Mapping]]] = ...) -> None: ...

class ConversationUpdated(_message.Message):
    __slots__ = ("conversation", "update_mask")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    conversation: _conversation_pb2.Conversation
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, conversation: _Optional[_Union[_conversation_pb2.Conversation, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class ConversationArchived(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConversationUnarchived(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConversationFrozen(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class ConversationUnfrozen(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConversationDeleted(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
