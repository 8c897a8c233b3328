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

class AuthEventActorKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTH_EVENT_ACTOR_KIND_UNSPECIFIED: _ClassVar[AuthEventActorKind]
    AUTH_EVENT_ACTOR_KIND_USER: _ClassVar[AuthEventActorKind]
    AUTH_EVENT_ACTOR_KIND_API_KEY: _ClassVar[AuthEventActorKind]
    AUTH_EVENT_ACTOR_KIND_SERVICE: _ClassVar[AuthEventActorKind]
    AUTH_EVENT_ACTOR_KIND_PLATFORM_ADMIN: _ClassVar[AuthEventActorKind]

class SessionRevokeReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_REVOKE_REASON_UNSPECIFIED: _ClassVar[SessionRevokeReason]
    SESSION_REVOKE_REASON_SIGN_OUT: _ClassVar[SessionRevokeReason]
    SESSION_REVOKE_REASON_REVOKED_BY_USER: _ClassVar[SessionRevokeReason]
    SESSION_REVOKE_REASON_REFRESH_TOKEN_REUSED: _ClassVar[SessionRevokeReason]
    SESSION_REVOKE_REASON_USER_ERASED: _ClassVar[SessionRevokeReason]
    SESSION_REVOKE_REASON_USER_DELETED: _ClassVar[SessionRevokeReason]
AUTH_EVENT_ACTOR_KIND_UNSPECIFIED: AuthEventActorKind
AUTH_EVENT_ACTOR_KIND_USER: AuthEventActorKind
AUTH_EVENT_ACTOR_KIND_API_KEY: AuthEventActorKind
AUTH_EVENT_ACTOR_KIND_SERVICE: AuthEventActorKind
AUTH_EVENT_ACTOR_KIND_PLATFORM_ADMIN: AuthEventActorKind
SESSION_REVOKE_REASON_UNSPECIFIED: SessionRevokeReason
SESSION_REVOKE_REASON_SIGN_OUT: SessionRevokeReason
SESSION_REVOKE_REASON_REVOKED_BY_USER: SessionRevokeReason
SESSION_REVOKE_REASON_REFRESH_TOKEN_REUSED: SessionRevokeReason
SESSION_REVOKE_REASON_USER_ERASED: SessionRevokeReason
SESSION_REVOKE_REASON_USER_DELETED: SessionRevokeReason

class AuthEventEnvelope(_message.Message):
    __slots__ = ("event_id", "tenant_id", "create_time", "correlation_id", "actor", "session_revoked", "user_upserted", "user_deactivated", "user_reactivated", "user_deleted", "tenant_suspended", "tenant_resumed", "api_key_revoked", "signing_key_rotated", "tenant_settings_changed", "tenant_created", "api_key_created", "api_key_rotated", "totp_enabled", "totp_disabled", "sign_in_attempted")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
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
    TENANT_CREATED_FIELD_NUMBER: _ClassVar[int]
    API_KEY_CREATED_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ROTATED_FIELD_NUMBER: _ClassVar[int]
    TOTP_ENABLED_FIELD_NUMBER: _ClassVar[int]
    TOTP_DISABLED_FIELD_NUMBER: _ClassVar[int]
    SIGN_IN_ATTEMPTED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    tenant_id: str
    create_time: _timestamp_pb2.Timestamp
    correlation_id: str
    actor: AuthEventActor
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
    tenant_created: TenantCreated
    api_key_created: ApiKeyCreated
    api_key_rotated: ApiKeyRotated
    totp_enabled: TotpEnabled
    totp_disabled: TotpDisabled
    sign_in_attempted: SignInAttempted
    def __init__(self, event_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., correlation_id: _Optional[str] = ..., actor: _Optional[_Union[AuthEventActor, _Mapping]] = ..., session_revoked: _Optional[_Union[SessionRevoked, _Mapping]] = ..., user_upserted: _Optional[_Union[UserUpserted, _Mapping]] = ..., user_deactivated: _Optional[_Union[UserDeactivated, _Mapping]] = ..., user_reactivated: _Optional[_Union[UserReactivated, _Mapping]] = ..., user_deleted: _Optional[_Union[UserDeleted, _Mapping]] = ..., tenant_suspended: _Optional[_Union[TenantSuspended, _Mapping]] = ..., tenant_resumed: _Optional[_Union[TenantResumed, _Mapping]] = ..., api_key_revoked: _Optional[_Union[ApiKeyRevoked, _Mapping]] = ..., signing_key_rotated: _Optional[_Union[SigningKeyRotated, _Mapping]] = ..., tenant_settings_changed: _Optional[_Union[TenantSettingsChanged, _Mapping]] = ..., tenant_created: _Optional[_Union[TenantCreated, _Mapping]] = ..., api_key_created: _Optional[_Union[ApiKeyCreated, _Mapping]] = ..., api_key_rotated: _Optional[_Union[ApiKeyRotated, _Mapping]] = ..., totp_enabled: _Optional[_Union[TotpEnabled, _Mapping]] = ..., totp_disabled: _Optional[_Union[TotpDisabled, _Mapping]] = ..., sign_in_attempted: _Optional[_Union[SignInAttempted, _Mapping]] = ...) -> None: ...

class AuthEventActor(_message.Message):
    __slots__ = ("kind", "id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    kind: AuthEventActorKind
    id: str
    def __init__(self, kind: _Optional[_Union[AuthEventActorKind, str]] = ..., id: _Optional[str] = ...) -> None: ...

class TenantCreated(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ApiKeyCreated(_message.Message):
    __slots__ = ("api_key_id",)
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    api_key_id: str
    def __init__(self, api_key_id: _Optional[str] = ...) -> None: ...

class ApiKeyRotated(_message.Message):
    __slots__ = ("api_key_id", "previous_api_key_id", "previous_expire_time")
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    api_key_id: str
    previous_api_key_id: str
    previous_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, api_key_id: _Optional[str] = ..., previous_api_key_id: _Optional[str] = ..., previous_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TotpEnabled(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class TotpDisabled(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

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

class SignInAttempted(_message.Message):
    __slots__ = ("user_id", "succeeded", "failure", "session_id", "mfa_pending")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MFA_PENDING_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    succeeded: bool
    failure: str
    session_id: str
    mfa_pending: bool
    def __init__(self, user_id: _Optional[str] = ..., succeeded: _Optional[bool] = ..., failure: _Optional[str] = ..., session_id: _Optional[str] = ..., mfa_pending: _Optional[bool] = ...) -> None: ...
