from buf.validate import validate_pb2 as _validate_pb2
from caas.realtime.v1 import frame_pb2 as _frame_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConnectRequest(_message.Message):
    __slots__ = ("frame",)
    FRAME_FIELD_NUMBER: _ClassVar[int]
    frame: _frame_pb2.ClientFrame
    def __init__(self, frame: _Optional[_Union[_frame_pb2.ClientFrame, _Mapping]] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("frame",)
    FRAME_FIELD_NUMBER: _ClassVar[int]
    frame: _frame_pb2.ServerFrame
    def __init__(self, frame: _Optional[_Union[_frame_pb2.ServerFrame, _Mapping]] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("resume", "conversation_ids")
    RESUME_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    resume: _frame_pb2.Resume
    conversation_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, resume: _Optional[_Union[_frame_pb2.Resume, _Mapping]] = ..., conversation_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("frame",)
    FRAME_FIELD_NUMBER: _ClassVar[int]
    frame: _frame_pb2.ServerFrame
    def __init__(self, frame: _Optional[_Union[_frame_pb2.ServerFrame, _Mapping]] = ...) -> None: ...

class SendRequest(_message.Message):
    __slots__ = ("connection_id", "frame")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    frame: _frame_pb2.ClientFrame
    def __init__(self, connection_id: _Optional[str] = ..., frame: _Optional[_Union[_frame_pb2.ClientFrame, _Mapping]] = ...) -> None: ...

class SendResponse(_message.Message):
    __slots__ = ("frame",)
    FRAME_FIELD_NUMBER: _ClassVar[int]
    frame: _frame_pb2.ServerFrame
    def __init__(self, frame: _Optional[_Union[_frame_pb2.ServerFrame, _Mapping]] = ...) -> None: ...
