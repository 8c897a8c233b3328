import datetime

from buf.validate import validate_pb2 as _validate_pb2
from caas.auth.v1 import api_key_pb2 as _api_key_pb2
from caas.auth.v1 import revocation_pb2 as _revocation_pb2
from caas.auth.v1 import tenant_pb2 as _tenant_pb2
from caas.auth.v1 import user_pb2 as _user_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeleteTenantDataRequest(_message.Message):
    __slots__ = ("tenant_id", "page_size")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    page_size: int
    def __init__(self, tenant_id: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class DeleteTenantDataResponse(_message.Message):
    __slots__ = ("users_removed", "sessions_revoked", "api_keys_revoked", "more")
    USERS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_REVOKED_FIELD_NUMBER: _ClassVar[int]
    API_KEYS_REVOKED_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    users_removed: int
    sessions_revoked: int
    api_keys_revoked: int
    more: bool
    def __init__(self, users_removed: _Optional[int] = ..., sessions_revoked: _Optional[int] = ..., api_keys_revoked: _Optional[int] = ..., more: _Optional[bool] = ...) -> None: ...

class ExportUserDataRequest(_message.Message):
    __slots__ = ("tenant_id", "user_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class ExportUserDataResponse(_message.Message):
    __slots__ = ("json_lines",)
    JSON_LINES_FIELD_NUMBER: _ClassVar[int]
    json_lines: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, json_lines: _Optional[_Iterable[str]] = ...) -> None: ...

class EraseUserDataRequest(_message.Message):
    __slots__ = ("tenant_id", "user_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class EraseUserDataResponse(_message.Message):
    __slots__ = ("found", "sessions_revoked", "logins_removed")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_REVOKED_FIELD_NUMBER: _ClassVar[int]
    LOGINS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    found: bool
    sessions_revoked: int
    logins_removed: int
    def __init__(self, found: _Optional[bool] = ..., sessions_revoked: _Optional[int] = ..., logins_removed: _Optional[int] = ...) -> None: ...

class GetTenantPolicyRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class GetTenantPolicyResponse(_message.Message):
    __slots__ = ("role_grants", "message_retention")
    ROLE_GRANTS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_RETENTION_FIELD_NUMBER: _ClassVar[int]
    role_grants: _containers.RepeatedCompositeFieldContainer[_tenant_pb2.RoleGrant]
    message_retention: _duration_pb2.Duration
    def __init__(self, role_grants: _Optional[_Iterable[_Union[_tenant_pb2.RoleGrant, _Mapping]]] = ..., message_retention: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ListTenantRetentionRequest(_message.Message):
    __slots__ = ("after_tenant_id", "limit")
    AFTER_TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after_tenant_id: str
    limit: int
    def __init__(self, after_tenant_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class TenantRetention(_message.Message):
    __slots__ = ("tenant_id", "message_retention")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_RETENTION_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    message_retention: _duration_pb2.Duration
    def __init__(self, tenant_id: _Optional[str] = ..., message_retention: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ListTenantRetentionResponse(_message.Message):
    __slots__ = ("tenants", "next_after_tenant_id")
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenants: _containers.RepeatedCompositeFieldContainer[TenantRetention]
    next_after_tenant_id: str
    def __init__(self, tenants: _Optional[_Iterable[_Union[TenantRetention, _Mapping]]] = ..., next_after_tenant_id: _Optional[str] = ...) -> None: ...

class IssueServiceTokenRequest(_message.Message):
    __slots__ = ("service_name", "audience")
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    service_name: str
    audience: str
    def __init__(self, service_name: _Optional[str] = ..., audience: _Optional[str] = ...) -> None: ...

class IssueServiceTokenResponse(_message.Message):
    __slots__ = ("token", "expire_time")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    token: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, token: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class VerifyApiKeyRequest(_message.Message):
    __slots__ = ("secret",)
    SECRET_FIELD_NUMBER: _ClassVar[int]
    secret: str
    def __init__(self, secret: _Optional[str] = ...) -> None: ...

class VerifyApiKeyResponse(_message.Message):
    __slots__ = ("api_key",)
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: _api_key_pb2.ApiKey
    def __init__(self, api_key: _Optional[_Union[_api_key_pb2.ApiKey, _Mapping]] = ...) -> None: ...

class VerifyAdminCredentialRequest(_message.Message):
    __slots__ = ("secret",)
    SECRET_FIELD_NUMBER: _ClassVar[int]
    secret: str
    def __init__(self, secret: _Optional[str] = ...) -> None: ...

class VerifyAdminCredentialResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRevocationsRequest(_message.Message):
    __slots__ = ("cursor", "limit")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    limit: int
    def __init__(self, cursor: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListRevocationsResponse(_message.Message):
    __slots__ = ("revocations", "next_cursor", "has_more")
    REVOCATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    revocations: _containers.RepeatedCompositeFieldContainer[_revocation_pb2.Revocation]
    next_cursor: str
    has_more: bool
    def __init__(self, revocations: _Optional[_Iterable[_Union[_revocation_pb2.Revocation, _Mapping]]] = ..., next_cursor: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class BatchGetUsersRequest(_message.Message):
    __slots__ = ("tenant_id", "user_ids")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., user_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetUsersResponse(_message.Message):
    __slots__ = ("users",)
    USERS_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[_user_pb2.User]
    def __init__(self, users: _Optional[_Iterable[_Union[_user_pb2.User, _Mapping]]] = ...) -> None: ...

class ResolveMembersRequest(_message.Message):
    __slots__ = ("tenant_id", "user_ids")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., user_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ResolveMembersResponse(_message.Message):
    __slots__ = ("missing_user_ids", "created_user_ids")
    MISSING_USER_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_USER_IDS_FIELD_NUMBER: _ClassVar[int]
    missing_user_ids: _containers.RepeatedScalarFieldContainer[str]
    created_user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, missing_user_ids: _Optional[_Iterable[str]] = ..., created_user_ids: _Optional[_Iterable[str]] = ...) -> None: ...
