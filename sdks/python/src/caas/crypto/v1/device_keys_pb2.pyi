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

class DeviceChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_CHANGE_KIND_UNSPECIFIED: _ClassVar[DeviceChangeKind]
    DEVICE_CHANGE_KIND_ADDED: _ClassVar[DeviceChangeKind]
    DEVICE_CHANGE_KIND_REMOVED: _ClassVar[DeviceChangeKind]
    DEVICE_CHANGE_KIND_KEYS_ROTATED: _ClassVar[DeviceChangeKind]
DEVICE_CHANGE_KIND_UNSPECIFIED: DeviceChangeKind
DEVICE_CHANGE_KIND_ADDED: DeviceChangeKind
DEVICE_CHANGE_KIND_REMOVED: DeviceChangeKind
DEVICE_CHANGE_KIND_KEYS_ROTATED: DeviceChangeKind

class SignedPreKey(_message.Message):
    __slots__ = ("key_id", "public_key", "signature")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    key_id: int
    public_key: bytes
    signature: bytes
    def __init__(self, key_id: _Optional[int] = ..., public_key: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class KyberPreKey(_message.Message):
    __slots__ = ("key_id", "public_key", "signature")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    key_id: int
    public_key: bytes
    signature: bytes
    def __init__(self, key_id: _Optional[int] = ..., public_key: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class OneTimePreKey(_message.Message):
    __slots__ = ("key_id", "public_key")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    key_id: int
    public_key: bytes
    def __init__(self, key_id: _Optional[int] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ("user_id", "device_id", "registration_id", "identity_key", "signed_prekey", "previous_signed_prekey", "previous_signed_prekey_expire_time", "kyber_prekey", "one_time_prekey_count", "create_time", "update_time")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNED_PREKEY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SIGNED_PREKEY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SIGNED_PREKEY_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    KYBER_PREKEY_FIELD_NUMBER: _ClassVar[int]
    ONE_TIME_PREKEY_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    device_id: int
    registration_id: int
    identity_key: bytes
    signed_prekey: SignedPreKey
    previous_signed_prekey: SignedPreKey
    previous_signed_prekey_expire_time: _timestamp_pb2.Timestamp
    kyber_prekey: KyberPreKey
    one_time_prekey_count: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., device_id: _Optional[int] = ..., registration_id: _Optional[int] = ..., identity_key: _Optional[bytes] = ..., signed_prekey: _Optional[_Union[SignedPreKey, _Mapping]] = ..., previous_signed_prekey: _Optional[_Union[SignedPreKey, _Mapping]] = ..., previous_signed_prekey_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kyber_prekey: _Optional[_Union[KyberPreKey, _Mapping]] = ..., one_time_prekey_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PreKeyBundle(_message.Message):
    __slots__ = ("user_id", "device_id", "registration_id", "identity_key", "signed_prekey", "one_time_prekey", "kyber_prekey")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNED_PREKEY_FIELD_NUMBER: _ClassVar[int]
    ONE_TIME_PREKEY_FIELD_NUMBER: _ClassVar[int]
    KYBER_PREKEY_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    device_id: int
    registration_id: int
    identity_key: bytes
    signed_prekey: SignedPreKey
    one_time_prekey: OneTimePreKey
    kyber_prekey: KyberPreKey
    def __init__(self, user_id: _Optional[str] = ..., device_id: _Optional[int] = ..., registration_id: _Optional[int] = ..., identity_key: _Optional[bytes] = ..., signed_prekey: _Optional[_Union[SignedPreKey, _Mapping]] = ..., one_time_prekey: _Optional[_Union[OneTimePreKey, _Mapping]] = ..., kyber_prekey: _Optional[_Union[KyberPreKey, _Mapping]] = ...) -> None: ...

class DeviceListChange(_message.Message):
    __slots__ = ("tenant_id", "user_id", "seq", "kind", "device_id", "identity_key", "signed_prekey_id", "kyber_prekey_id", "change_time", "previous_hash", "device_ids")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNED_PREKEY_ID_FIELD_NUMBER: _ClassVar[int]
    KYBER_PREKEY_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_HASH_FIELD_NUMBER: _ClassVar[int]
    DEVICE_IDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_id: str
    seq: int
    kind: DeviceChangeKind
    device_id: int
    identity_key: bytes
    signed_prekey_id: int
    kyber_prekey_id: int
    change_time: _timestamp_pb2.Timestamp
    previous_hash: bytes
    device_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., seq: _Optional[int] = ..., kind: _Optional[_Union[DeviceChangeKind, str]] = ..., device_id: _Optional[int] = ..., identity_key: _Optional[bytes] = ..., signed_prekey_id: _Optional[int] = ..., kyber_prekey_id: _Optional[int] = ..., change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., previous_hash: _Optional[bytes] = ..., device_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class SignedDeviceListChange(_message.Message):
    __slots__ = ("change", "signature", "key_id")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    change: bytes
    signature: bytes
    key_id: str
    def __init__(self, change: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., key_id: _Optional[str] = ...) -> None: ...

class DirectorySigningKey(_message.Message):
    __slots__ = ("key_id", "public_key")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    public_key: bytes
    def __init__(self, key_id: _Optional[str] = ..., public_key: _Optional[bytes] = ...) -> None: ...
