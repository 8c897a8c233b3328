import datetime

from caas.auth.v1 import user_pb2 as _user_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionRevokeReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_REVOKE_REASON_UNSPECIFIED: _ClassVar[SessionRevokeReason]
    SESSION_REVOKE_REASON_SIGN_OUT: _ClassVar[SessionRevokeReason]
    SESSION_REVOKE_REASON_REVOKED_BY_USER: _ClassVar[SessionRevokeReason]
    SESSION_REVOKE_REASON_REFRESH_TOKEN_REUSED: _ClassVar[SessionRevokeReason]
SESSION_REVOKE_REASON_UNSPECIFIED: SessionRevokeReason
SESSION_REVOKE_REASON_SIGN_OUT: SessionRevokeReason
SESSION_REVOKE_REASON_REVOKED_BY_USER: SessionRevokeReason
SESSION_REVOKE_REASON_REFRESH_TOKEN_REUSED: SessionRevokeReason

class AuthEventEnvelope(_message.Message):
    __slots__ = ("event_id", "tenant_id", "create_time", "correlation_id", "session_revoked", "user_upserted", "user_deactivated", "user_reactivated", "user_deleted", "tenant_suspended", "tenant_resumed", "api_key_revoked", "signing_key_rotated", "tenant_settings_changed")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_REVOKED_FIELD_NUMBER: _ClassVar[int]
    USER_UPSERTED_FIELD_NUMBER: _ClassVar[int]
    USER_DEACTIVATED_FIELD_NUMBER: _ClassVar[int]
    USER_REACTIVATED_FIELD_NUMBER: _ClassVar[int]
    USER_DELETED_FIELD_NUMBER: _ClassVar[int]
    TENANT_SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    TENANT_RESUMED_FIELD_NUMBER: _ClassVar[int]
    API_KEY_REVOKED_FIELD_NUMBER: _ClassVar[int]
    SIGNING_KEY_ROTATED_FIELD_NUMBER: _ClassVar[int]
    TENANT_SETTINGS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    tenant_id: str
    create_time: _timestamp_pb2.Timestamp
    correlation_id: str
    session_revoked: SessionRevoked
    user_upserted: UserUpserted
    user_deactivated: UserDeactivated
    user_reactivated: UserReactivated
    user_deleted: UserDeleted
    tenant_suspended: TenantSuspended
    tenant_resumed: TenantResumed
    api_key_revoked: ApiKeyRevoked
    signing_key_rotated: SigningKeyRotated
    tenant_settings_changed: TenantSettingsChanged
    def __init__(self, event_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., correlation_id: _Optional[str] = ..., session_revoked: _Optional[_Union[SessionRevoked, _Mapping]] = ..., user_upserted: _Optional[_Union[UserUpserted, _Mapping]] = ..., user_deactivated: _Optional[_Union[UserDeactivated, _Mapping]] = ..., user_reactivated: _Optional[_Union[UserReactivated, _Mapping]] = ..., user_deleted: _Optional[_Union[UserDeleted, _Mapping]] = ..., tenant_suspended: _Optional[_Union[TenantSuspended, _Mapping]] = ..., tenant_resumed: _Optional[_Union[TenantResumed, _Mapping]] = ..., api_key_revoked: _Optional[_Union[ApiKeyRevoked, _Mapping]] = ..., signing_key_rotated: _Optional[_Union[SigningKeyRotated, _Mapping]] = ..., tenant_settings_changed: _Optional[_Union[TenantSettingsChanged, _Mapping]] = ...) -> None: ...

class SessionRevoked(_message.Message):
    __slots__ = ("user_id", "session_id", "reason")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    session_id: str
    reason: SessionRevokeReason
    def __init__(self, user_id: _Optional[str] = ..., session_id: _Optional[str] = ..., reason: _Optional[_Union[SessionRevokeReason, str]] = ...) -> None: ...

class UserUpserted(_message.Message):
    __slots__ = ("user", "created")
    USER_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    user: _user_pb2.User
    created: bool
    def __init__(self, user: _Optional[_Union[_user_pb2.User, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class UserDeactivated(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class UserReactivated(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class UserDeleted(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class TenantSuspended(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TenantResumed(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ApiKeyRevoked(_message.Message):
    __slots__ = ("api_key_id",)
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    api_key_id: str
    def __init__(self, api_key_id: _Optional[str] = ...) -> None: ...

class SigningKeyRotated(_message.Message):
    __slots__ = ("kid", "revoked_kids")
    KID_FIELD_NUMBER: _ClassVar[int]
    REVOKED_KIDS_FIELD_NUMBER: _ClassVar[int]
    kid: str
    revoked_kids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kid: _Optional[str] = ..., revoked_kids: _Optional[_Iterable[str]] = ...) -> None: ...

class TenantSettingsChanged(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
