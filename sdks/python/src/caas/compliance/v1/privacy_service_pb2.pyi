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

class PrivacyJobKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRIVACY_JOB_KIND_UNSPECIFIED: _ClassVar[PrivacyJobKind]
    PRIVACY_JOB_KIND_ERASURE: _ClassVar[PrivacyJobKind]
    PRIVACY_JOB_KIND_EXPORT: _ClassVar[PrivacyJobKind]
    PRIVACY_JOB_KIND_TENANT_DELETION: _ClassVar[PrivacyJobKind]

class PrivacyJobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRIVACY_JOB_STATE_UNSPECIFIED: _ClassVar[PrivacyJobState]
    PRIVACY_JOB_STATE_RUNNING: _ClassVar[PrivacyJobState]
    PRIVACY_JOB_STATE_SUCCEEDED: _ClassVar[PrivacyJobState]
    PRIVACY_JOB_STATE_FAILED: _ClassVar[PrivacyJobState]
    PRIVACY_JOB_STATE_EXPIRED: _ClassVar[PrivacyJobState]
PRIVACY_JOB_KIND_UNSPECIFIED: PrivacyJobKind
PRIVACY_JOB_KIND_ERASURE: PrivacyJobKind
PRIVACY_JOB_KIND_EXPORT: PrivacyJobKind
PRIVACY_JOB_KIND_TENANT_DELETION: PrivacyJobKind
PRIVACY_JOB_STATE_UNSPECIFIED: PrivacyJobState
PRIVACY_JOB_STATE_RUNNING: PrivacyJobState
PRIVACY_JOB_STATE_SUCCEEDED: PrivacyJobState
PRIVACY_JOB_STATE_FAILED: PrivacyJobState
PRIVACY_JOB_STATE_EXPIRED: PrivacyJobState

class RequestTenantDeletionRequest(_message.Message):
    __slots__ = ("tenant_id", "reason")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    reason: str
    def __init__(self, tenant_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RequestTenantDeletionResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: PrivacyJob
    def __init__(self, job: _Optional[_Union[PrivacyJob, _Mapping]] = ...) -> None: ...

class RequestErasureRequest(_message.Message):
    __slots__ = ("user_id", "tenant_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    tenant_id: str
    def __init__(self, user_id: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class RequestErasureResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: PrivacyJob
    def __init__(self, job: _Optional[_Union[PrivacyJob, _Mapping]] = ...) -> None: ...

class RequestExportRequest(_message.Message):
    __slots__ = ("user_id", "tenant_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    tenant_id: str
    def __init__(self, user_id: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class RequestExportResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: PrivacyJob
    def __init__(self, job: _Optional[_Union[PrivacyJob, _Mapping]] = ...) -> None: ...

class GetExportDownloadRequest(_message.Message):
    __slots__ = ("job_id", "tenant_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    tenant_id: str
    def __init__(self, job_id: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class GetExportDownloadResponse(_message.Message):
    __slots__ = ("url", "expire_time", "size", "sha256")
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    url: str
    expire_time: _timestamp_pb2.Timestamp
    size: int
    sha256: str
    def __init__(self, url: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id", "tenant_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    tenant_id: str
    def __init__(self, job_id: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: PrivacyJob
    def __init__(self, job: _Optional[_Union[PrivacyJob, _Mapping]] = ...) -> None: ...

class PrivacyJob(_message.Message):
    __slots__ = ("id", "tenant_id", "kind", "user_id", "state", "percent", "services", "error", "create_time", "update_time", "complete_time", "archive_expire_time", "archive_delete_reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_DELETE_REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    kind: PrivacyJobKind
    user_id: str
    state: PrivacyJobState
    percent: int
    services: _containers.RepeatedCompositeFieldContainer[ServiceProgress]
    error: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    complete_time: _timestamp_pb2.Timestamp
    archive_expire_time: _timestamp_pb2.Timestamp
    archive_delete_reason: str
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., kind: _Optional[_Union[PrivacyJobKind, str]] = ..., user_id: _Optional[str] = ..., state: _Optional[_Union[PrivacyJobState, str]] = ..., percent: _Optional[int] = ..., services: _Optional[_Iterable[_Union[ServiceProgress, _Mapping]]] = ..., error: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., archive_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., archive_delete_reason: _Optional[str] = ...) -> None: ...

class ServiceProgress(_message.Message):
    __slots__ = ("service", "items", "done", "skipped")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    service: str
    items: int
    done: bool
    skipped: _containers.RepeatedCompositeFieldContainer[SkippedData]
    def __init__(self, service: _Optional[str] = ..., items: _Optional[int] = ..., done: _Optional[bool] = ..., skipped: _Optional[_Iterable[_Union[SkippedData, _Mapping]]] = ...) -> None: ...

class SkippedData(_message.Message):
    __slots__ = ("type", "id", "reason")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    type: str
    id: str
    reason: str
    def __init__(self, type: _Optional[str] = ..., id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
