import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RevocationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVOCATION_KIND_UNSPECIFIED: _ClassVar[RevocationKind]
    REVOCATION_KIND_SESSION: _ClassVar[RevocationKind]
    REVOCATION_KIND_USER: _ClassVar[RevocationKind]
    REVOCATION_KIND_TENANT: _ClassVar[RevocationKind]
    REVOCATION_KIND_API_KEY: _ClassVar[RevocationKind]
    REVOCATION_KIND_SIGNING_KEY: _ClassVar[RevocationKind]
REVOCATION_KIND_UNSPECIFIED: RevocationKind
REVOCATION_KIND_SESSION: RevocationKind
REVOCATION_KIND_USER: RevocationKind
REVOCATION_KIND_TENANT: RevocationKind
REVOCATION_KIND_API_KEY: RevocationKind
REVOCATION_KIND_SIGNING_KEY: RevocationKind

class Revocation(_message.Message):
    __slots__ = ("kind", "tenant_id", "subject_id", "revoke_time", "expire_time")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    kind: RevocationKind
    tenant_id: str
    subject_id: str
    revoke_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[RevocationKind, str]] = ..., tenant_id: _Optional[str] = ..., subject_id: _Optional[str] = ..., revoke_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
