from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EncryptedContent(_message.Message):
    __slots__ = ("device_envelopes", "mls_message")
    DEVICE_ENVELOPES_FIELD_NUMBER: _ClassVar[int]
    MLS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    device_envelopes: DeviceEnvelopes
    mls_message: bytes
    def __init__(self, device_envelopes: _Optional[_Union[DeviceEnvelopes, _Mapping]] = ..., mls_message: _Optional[bytes] = ...) -> None: ...

class DeviceEnvelopes(_message.Message):
    __slots__ = ("envelopes",)
    ENVELOPES_FIELD_NUMBER: _ClassVar[int]
    envelopes: _containers.RepeatedCompositeFieldContainer[DeviceEnvelope]
    def __init__(self, envelopes: _Optional[_Iterable[_Union[DeviceEnvelope, _Mapping]]] = ...) -> None: ...

class DeviceEnvelope(_message.Message):
    __slots__ = ("user_id", "device_id", "type", "ciphertext")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    device_id: int
    type: int
    ciphertext: bytes
    def __init__(self, user_id: _Optional[str] = ..., device_id: _Optional[int] = ..., type: _Optional[int] = ..., ciphertext: _Optional[bytes] = ...) -> None: ...
