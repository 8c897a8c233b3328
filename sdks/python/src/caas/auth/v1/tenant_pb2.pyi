import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TenantStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TENANT_STATUS_UNSPECIFIED: _ClassVar[TenantStatus]
    TENANT_STATUS_ACTIVE: _ClassVar[TenantStatus]
    TENANT_STATUS_SUSPENDED: _ClassVar[TenantStatus]
    TENANT_STATUS_DELETED: _ClassVar[TenantStatus]
TENANT_STATUS_UNSPECIFIED: TenantStatus
TENANT_STATUS_ACTIVE: TenantStatus
TENANT_STATUS_SUSPENDED: TenantStatus
TENANT_STATUS_DELETED: TenantStatus

class Tenant(_message.Message):
    __slots__ = ("id", "name", "status", "settings", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    status: TenantStatus
    settings: TenantSettings
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[_Union[TenantStatus, str]] = ..., settings: _Optional[_Union[TenantSettings, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TenantSettings(_message.Message):
    __slots__ = ("password_auth_enabled", "mfa_required", "message_retention", "message_edit_window", "allowed_origins", "max_conversation_members", "role_grants", "create_users_on_first_use")
    PASSWORD_AUTH_ENABLED_FIELD_NUMBER: _ClassVar[int]
    MFA_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_RETENTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_EDIT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_ORIGINS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONVERSATION_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    ROLE_GRANTS_FIELD_NUMBER: _ClassVar[int]
    CREATE_USERS_ON_FIRST_USE_FIELD_NUMBER: _ClassVar[int]
    password_auth_enabled: bool
    mfa_required: bool
    message_retention: _duration_pb2.Duration
    message_edit_window: _duration_pb2.Duration
    allowed_origins: _containers.RepeatedScalarFieldContainer[str]
    max_conversation_members: int
    role_grants: _containers.RepeatedCompositeFieldContainer[RoleGrant]
    create_users_on_first_use: bool
    def __init__(self, password_auth_enabled: _Optional[bool] = ..., mfa_required: _Optional[bool] = ..., message_retention: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., message_edit_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., allowed_origins: _Optional[_Iterable[str]] = ..., max_conversation_members: _Optional[int] = ..., role_grants: _Optional[_Iterable[_Union[RoleGrant, _Mapping]]] = ..., create_users_on_first_use: _Optional[bool] = ...) -> None: ...

class RoleGrant(_message.Message):
    __slots__ = ("role", "actions")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    role: str
    actions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, role: _Optional[str] = ..., actions: _Optional[_Iterable[str]] = ...) -> None: ...
