from buf.validate import validate_pb2 as _validate_pb2
from caas.chat.v1 import conversation_pb2 as _conversation_pb2
from caas.chat.v1 import event_pb2 as _event_pb2
from caas.chat.v1 import read_state_pb2 as _read_state_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConversationChanges(_message.Message):
    __slots__ = ("conversation_id", "conversation", "events", "limited", "read_state", "receipts")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    LIMITED_FIELD_NUMBER: _ClassVar[int]
    READ_STATE_FIELD_NUMBER: _ClassVar[int]
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    conversation: _conversation_pb2.Conversation
    events: _containers.RepeatedCompositeFieldContainer[_event_pb2.Event]
    limited: bool
    read_state: _read_state_pb2.ReadState
    receipts: _containers.RepeatedCompositeFieldContainer[_read_state_pb2.Receipt]
    def __init__(self, conversation_id: _Optional[str] = ..., conversation: _Optional[_Union[_conversation_pb2.Conversation, _Mapping]] = ..., events: _Optional[_Iterable[_Union[_event_pb2.Event, _Mapping]]] = ..., limited: _Optional[bool] = ..., read_state: _Optional[_Union[_read_state_pb2.ReadState, _Mapping]] = ..., receipts: _Optional[_Iterable[_Union[_read_state_pb2.Receipt, _Mapping]]] = ...) -> None: ...

class ConversationPosition(_message.Message):
    __slots__ = ("conversation_id", "seq")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    seq: int
    def __init__(self, conversation_id: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...
