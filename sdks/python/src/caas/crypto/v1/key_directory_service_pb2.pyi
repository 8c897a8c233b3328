from buf.validate import validate_pb2 as _validate_pb2
from caas.crypto.v1 import device_keys_pb2 as _device_keys_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PublishDeviceKeysRequest(_message.Message):
    __slots__ = ("device_id", "registration_id", "identity_key", "signed_prekey", "kyber_prekey", "one_time_prekeys")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNED_PREKEY_FIELD_NUMBER: _ClassVar[int]
    KYBER_PREKEY_FIELD_NUMBER: _ClassVar[int]
    ONE_TIME_PREKEYS_FIELD_NUMBER: _ClassVar[int]
    device_id: int
    registration_id: int
    identity_key: bytes
    signed_prekey: _device_keys_pb2.SignedPreKey
    kyber_prekey: _device_keys_pb2.KyberPreKey
    one_time_prekeys: _containers.RepeatedCompositeFieldContainer[_device_keys_pb2.OneTimePreKey]
    def __init__(self, device_id: _Optional[int] = ..., registration_id: _Optional[int] = ..., identity_key: _Optional[bytes] = ..., signed_prekey: _Optional[_Union[_device_keys_pb2.SignedPreKey, _Mapping]] = ..., kyber_prekey: _Optional[_Union[_device_keys_pb2.KyberPreKey, _Mapping]] = ..., one_time_prekeys: _Optional[_Iterable[_Union[_device_keys_pb2.OneTimePreKey, _Mapping]]] = ...) -> None: ...

class PublishDeviceKeysResponse(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: _device_keys_pb2.Device
    def __init__(self, device: _Optional[_Union[_device_keys_pb2.Device, _Mapping]] = ...) -> None: ...

class ReplaceSignedPreKeyRequest(_message.Message):
    __slots__ = ("device_id", "signed_prekey", "kyber_prekey")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNED_PREKEY_FIELD_NUMBER: _ClassVar[int]
    KYBER_PREKEY_FIELD_NUMBER: _ClassVar[int]
    device_id: int
    signed_prekey: _device_keys_pb2.SignedPreKey
    kyber_prekey: _device_keys_pb2.KyberPreKey
    def __init__(self, device_id: _Optional[int] = ..., signed_prekey: _Optional[_Union[_device_keys_pb2.SignedPreKey, _Mapping]] = ..., kyber_prekey: _Optional[_Union[_device_keys_pb2.KyberPreKey, _Mapping]] = ...) -> None: ...

class ReplaceSignedPreKeyResponse(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: _device_keys_pb2.Device
    def __init__(self, device: _Optional[_Union[_device_keys_pb2.Device, _Mapping]] = ...) -> None: ...

class UploadOneTimePreKeysRequest(_message.Message):
    __slots__ = ("device_id", "one_time_prekeys")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    ONE_TIME_PREKEYS_FIELD_NUMBER: _ClassVar[int]
    device_id: int
    one_time_prekeys: _containers.RepeatedCompositeFieldContainer[_device_keys_pb2.OneTimePreKey]
    def __init__(self, device_id: _Optional[int] = ..., one_time_prekeys: _Optional[_Iterable[_Union[_device_keys_pb2.OneTimePreKey, _Mapping]]] = ...) -> None: ...

class UploadOneTimePreKeysResponse(_message.Message):
    __slots__ = ("one_time_prekey_count",)
    ONE_TIME_PREKEY_COUNT_FIELD_NUMBER: _ClassVar[int]
    one_time_prekey_count: int
    def __init__(self, one_time_prekey_count: _Optional[int] = ...) -> None: ...

class ClaimPreKeyBundlesRequest(_message.Message):
    __slots__ = ("user_id", "device_ids")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_IDS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    device_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, user_id: _Optional[str] = ..., device_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ClaimPreKeyBundlesResponse(_message.Message):
    __slots__ = ("bundles",)
    BUNDLES_FIELD_NUMBER: _ClassVar[int]
    bundles: _containers.RepeatedCompositeFieldContainer[_device_keys_pb2.PreKeyBundle]
    def __init__(self, bundles: _Optional[_Iterable[_Union[_device_keys_pb2.PreKeyBundle, _Mapping]]] = ...) -> None: ...

class GetPreKeyCountRequest(_message.Message):
    __slots__ = ("device_id",)
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: int
    def __init__(self, device_id: _Optional[int] = ...) -> None: ...

class GetPreKeyCountResponse(_message.Message):
    __slots__ = ("one_time_prekey_count", "key_package_count")
    ONE_TIME_PREKEY_COUNT_FIELD_NUMBER: _ClassVar[int]
    KEY_PACKAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    one_time_prekey_count: int
    key_package_count: int
    def __init__(self, one_time_prekey_count: _Optional[int] = ..., key_package_count: _Optional[int] = ...) -> None: ...

class ListDevicesRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ListDevicesResponse(_message.Message):
    __slots__ = ("devices",)
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[_device_keys_pb2.Device]
    def __init__(self, devices: _Optional[_Iterable[_Union[_device_keys_pb2.Device, _Mapping]]] = ...) -> None: ...

class RemoveDeviceRequest(_message.Message):
    __slots__ = ("device_id",)
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: int
    def __init__(self, device_id: _Optional[int] = ...) -> None: ...

class RemoveDeviceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDeviceListHistoryRequest(_message.Message):
    __slots__ = ("user_id", "page_size", "page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetDeviceListHistoryResponse(_message.Message):
    __slots__ = ("changes", "next_page_token")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[_device_keys_pb2.SignedDeviceListChange]
    next_page_token: str
    def __init__(self, changes: _Optional[_Iterable[_Union[_device_keys_pb2.SignedDeviceListChange, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetDirectorySigningKeyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDirectorySigningKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: _device_keys_pb2.DirectorySigningKey
    def __init__(self, key: _Optional[_Union[_device_keys_pb2.DirectorySigningKey, _Mapping]] = ...) -> None: ...

class GetSafetyNumberRequest(_message.Message):
    __slots__ = ("device_id", "remote_user_id", "remote_device_id")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    REMOTE_USER_ID_FIELD_NUMBER: _ClassVar[int]
    REMOTE_DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: int
    remote_user_id: str
    remote_device_id: int
    def __init__(self, device_id: _Optional[int] = ..., remote_user_id: _Optional[str] = ..., remote_device_id: _Optional[int] = ...) -> None: ...

class GetSafetyNumberResponse(_message.Message):
    __slots__ = ("safety_number",)
    SAFETY_NUMBER_FIELD_NUMBER: _ClassVar[int]
    safety_number: str
    def __init__(self, safety_number: _Optional[str] = ...) -> None: ...

class KeyPackage(_message.Message):
    __slots__ = ("key_package_id", "key_package")
    KEY_PACKAGE_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_PACKAGE_FIELD_NUMBER: _ClassVar[int]
    key_package_id: int
    key_package: bytes
    def __init__(self, key_package_id: _Optional[int] = ..., key_package: _Optional[bytes] = ...) -> None: ...

class UploadKeyPackagesRequest(_message.Message):
    __slots__ = ("device_id", "key_packages")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_PACKAGES_FIELD_NUMBER: _ClassVar[int]
    device_id: int
    key_packages: _containers.RepeatedCompositeFieldContainer[KeyPackage]
    def __init__(self, device_id: _Optional[int] = ..., key_packages: _Optional[_Iterable[_Union[KeyPackage, _Mapping]]] = ...) -> None: ...

class UploadKeyPackagesResponse(_message.Message):
    __slots__ = ("key_package_count",)
    KEY_PACKAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    key_package_count: int
    def __init__(self, key_package_count: _Optional[int] = ...) -> None: ...

class ClaimKeyPackagesRequest(_message.Message):
    __slots__ = ("user_id", "device_ids")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_IDS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    device_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, user_id: _Optional[str] = ..., device_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ClaimedKeyPackage(_message.Message):
    __slots__ = ("user_id", "device_id", "key_package")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_PACKAGE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    device_id: int
    key_package: KeyPackage
    def __init__(self, user_id: _Optional[str] = ..., device_id: _Optional[int] = ..., key_package: _Optional[_Union[KeyPackage, _Mapping]] = ...) -> None: ...

class ClaimKeyPackagesResponse(_message.Message):
    __slots__ = ("key_packages",)
    KEY_PACKAGES_FIELD_NUMBER: _ClassVar[int]
    key_packages: _containers.RepeatedCompositeFieldContainer[ClaimedKeyPackage]
    def __init__(self, key_packages: _Optional[_Iterable[_Union[ClaimedKeyPackage, _Mapping]]] = ...) -> None: ...
