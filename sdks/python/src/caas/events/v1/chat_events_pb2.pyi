from caas.chat.v1 import event_pb2 as _event_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChatEventEnvelope(_message.Message):
    __slots__ = ("tenant_id", "conversation_id", "correlation_id", "event", "sealed_event")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SEALED_EVENT_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    conversation_id: str
    correlation_id: str
    event: _event_pb2.Event
    sealed_event: SealedChatEvent
    def __init__(self, tenant_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., correlation_id: _Optional[str] = ..., event: _Optional[_Union[_event_pb2.Event, _Mapping]] = ..., sealed_event: _Optional[_Union[SealedChatEvent, _Mapping]] = ...) -> None: ...

class SealedChatEvent(_message.Message):
    __slots__ = ("header", "sealed", "countable")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    COUNTABLE_FIELD_NUMBER: _ClassVar[int]
    header: _event_pb2.Event
    sealed: bytes
    countable: bool
    def __init__(self, header: _Optional[_Union[_event_pb2.Event, _Mapping]] = ..., sealed: _Optional[bytes] = ..., countable: _Optional[bool] = ...) -> None: ...
