import datetime

from buf.validate import validate_pb2 as _validate_pb2
from caas.auth.v1 import jwk_pb2 as _jwk_pb2
from caas.auth.v1 import session_pb2 as _session_pb2
from caas.auth.v1 import token_pb2 as _token_pb2
from caas.auth.v1 import user_pb2 as _user_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignUpRequest(_message.Message):
    __slots__ = ("tenant_id", "email", "username", "password", "display_name", "device_id", "device_name")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    email: str
    username: str
    password: str
    display_name: str
    device_id: str
    device_name: str
    def __init__(self, tenant_id: _Optional[str] = ..., email: _Optional[str] = ..., username: _Optional[str] = ..., password: _Optional[str] = ..., display_name: _Optional[str] = ..., device_id: _Optional[str] = ..., device_name: _Optional[str] = ...) -> None: ...

class SignUpResponse(_message.Message):
    __slots__ = ("user", "tokens", "mfa_enrollment_required", "mfa_challenge", "mfa_challenge_expire_time")
    USER_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    MFA_ENROLLMENT_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    MFA_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    MFA_CHALLENGE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    user: _user_pb2.User
    tokens: _token_pb2.SessionTokens
    mfa_enrollment_required: bool
    mfa_challenge: str
    mfa_challenge_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, user: _Optional[_Union[_user_pb2.User, _Mapping]] = ..., tokens: _Optional[_Union[_token_pb2.SessionTokens, _Mapping]] = ..., mfa_enrollment_required: _Optional[bool] = ..., mfa_challenge: _Optional[str] = ..., mfa_challenge_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SignInRequest(_message.Message):
    __slots__ = ("tenant_id", "email", "username", "password", "device_id", "device_name")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    email: str
    username: str
    password: str
    device_id: str
    device_name: str
    def __init__(self, tenant_id: _Optional[str] = ..., email: _Optional[str] = ..., username: _Optional[str] = ..., password: _Optional[str] = ..., device_id: _Optional[str] = ..., device_name: _Optional[str] = ...) -> None: ...

class SignInResponse(_message.Message):
    __slots__ = ("tokens", "mfa_required", "mfa_challenge", "mfa_challenge_expire_time", "mfa_enrollment_required")
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    MFA_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    MFA_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    MFA_CHALLENGE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    MFA_ENROLLMENT_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    tokens: _token_pb2.SessionTokens
    mfa_required: bool
    mfa_challenge: str
    mfa_challenge_expire_time: _timestamp_pb2.Timestamp
    mfa_enrollment_required: bool
    def __init__(self, tokens: _Optional[_Union[_token_pb2.SessionTokens, _Mapping]] = ..., mfa_required: _Optional[bool] = ..., mfa_challenge: _Optional[str] = ..., mfa_challenge_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., mfa_enrollment_required: _Optional[bool] = ...) -> None: ...

class VerifyMfaRequest(_message.Message):
    __slots__ = ("mfa_challenge", "totp_code", "recovery_code")
    MFA_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    TOTP_CODE_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_CODE_FIELD_NUMBER: _ClassVar[int]
    mfa_challenge: str
    totp_code: str
    recovery_code: str
    def __init__(self, mfa_challenge: _Optional[str] = ..., totp_code: _Optional[str] = ..., recovery_code: _Optional[str] = ...) -> None: ...

class VerifyMfaResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _token_pb2.SessionTokens
    def __init__(self, tokens: _Optional[_Union[_token_pb2.SessionTokens, _Mapping]] = ...) -> None: ...

class RefreshTokenRequest(_message.Message):
    __slots__ = ("refresh_token",)
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    def __init__(self, refresh_token: _Optional[str] = ...) -> None: ...

class RefreshTokenResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _token_pb2.SessionTokens
    def __init__(self, tokens: _Optional[_Union[_token_pb2.SessionTokens, _Mapping]] = ...) -> None: ...

class SignOutRequest(_message.Message):
    __slots__ = ("refresh_token",)
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    def __init__(self, refresh_token: _Optional[str] = ...) -> None: ...

class SignOutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions", "next_page_token")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[_session_pb2.Session]
    next_page_token: str
    def __init__(self, sessions: _Optional[_Iterable[_Union[_session_pb2.Session, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RevokeSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class RevokeSessionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnrollTotpRequest(_message.Message):
    __slots__ = ("mfa_challenge",)
    MFA_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    mfa_challenge: str
    def __init__(self, mfa_challenge: _Optional[str] = ...) -> None: ...

class EnrollTotpResponse(_message.Message):
    __slots__ = ("otpauth_uri", "secret")
    OTPAUTH_URI_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    otpauth_uri: str
    secret: str
    def __init__(self, otpauth_uri: _Optional[str] = ..., secret: _Optional[str] = ...) -> None: ...

class ConfirmTotpRequest(_message.Message):
    __slots__ = ("totp_code", "mfa_challenge")
    TOTP_CODE_FIELD_NUMBER: _ClassVar[int]
    MFA_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    totp_code: str
    mfa_challenge: str
    def __init__(self, totp_code: _Optional[str] = ..., mfa_challenge: _Optional[str] = ...) -> None: ...

class ConfirmTotpResponse(_message.Message):
    __slots__ = ("recovery_codes", "tokens")
    RECOVERY_CODES_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    recovery_codes: _containers.RepeatedScalarFieldContainer[str]
    tokens: _token_pb2.SessionTokens
    def __init__(self, recovery_codes: _Optional[_Iterable[str]] = ..., tokens: _Optional[_Union[_token_pb2.SessionTokens, _Mapping]] = ...) -> None: ...

class DisableTotpRequest(_message.Message):
    __slots__ = ("totp_code", "recovery_code")
    TOTP_CODE_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_CODE_FIELD_NUMBER: _ClassVar[int]
    totp_code: str
    recovery_code: str
    def __init__(self, totp_code: _Optional[str] = ..., recovery_code: _Optional[str] = ...) -> None: ...

class DisableTotpResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetJwksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetJwksResponse(_message.Message):
    __slots__ = ("jwks",)
    JWKS_FIELD_NUMBER: _ClassVar[int]
    jwks: _jwk_pb2.Jwks
    def __init__(self, jwks: _Optional[_Union[_jwk_pb2.Jwks, _Mapping]] = ...) -> None: ...
