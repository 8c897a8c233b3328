import datetime

from buf.validate import validate_pb2 as _validate_pb2
from caas.media.v1 import media_pb2 as _media_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AttachMediaRequest(_message.Message):
    __slots__ = ("tenant_id", "conversation_id", "media_ids", "uploader_id", "source_conversation_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_IDS_FIELD_NUMBER: _ClassVar[int]
    UPLOADER_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    conversation_id: str
    media_ids: _containers.RepeatedScalarFieldContainer[str]
    uploader_id: str
    source_conversation_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., media_ids: _Optional[_Iterable[str]] = ..., uploader_id: _Optional[str] = ..., source_conversation_id: _Optional[str] = ...) -> None: ...

class AttachMediaResponse(_message.Message):
    __slots__ = ("media",)
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    media: _containers.RepeatedCompositeFieldContainer[_media_pb2.Media]
    def __init__(self, media: _Optional[_Iterable[_Union[_media_pb2.Media, _Mapping]]] = ...) -> None: ...

class DetachMediaRequest(_message.Message):
    __slots__ = ("tenant_id", "conversation_id", "media_ids")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_IDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    conversation_id: str
    media_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., media_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DetachMediaResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ExpireMediaRequest(_message.Message):
    __slots__ = ("tenant_id", "media_ids", "dry_run")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_IDS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    media_ids: _containers.RepeatedScalarFieldContainer[str]
    dry_run: bool
    def __init__(self, tenant_id: _Optional[str] = ..., media_ids: _Optional[_Iterable[str]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class ExpireMediaResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class ExportUserDataRequest(_message.Message):
    __slots__ = ("tenant_id", "user_id", "export_id", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_id: str
    export_id: str
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., export_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ExportUserDataResponse(_message.Message):
    __slots__ = ("json_lines", "file_paths", "next_page_token")
    JSON_LINES_FIELD_NUMBER: _ClassVar[int]
    FILE_PATHS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    json_lines: _containers.RepeatedScalarFieldContainer[str]
    file_paths: _containers.RepeatedScalarFieldContainer[str]
    next_page_token: str
    def __init__(self, json_lines: _Optional[_Iterable[str]] = ..., file_paths: _Optional[_Iterable[str]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PutExportPartRequest(_message.Message):
    __slots__ = ("tenant_id", "export_id", "path", "content")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    export_id: str
    path: str
    content: bytes
    def __init__(self, tenant_id: _Optional[str] = ..., export_id: _Optional[str] = ..., path: _Optional[str] = ..., content: _Optional[bytes] = ...) -> None: ...

class PutExportPartResponse(_message.Message):
    __slots__ = ("size",)
    SIZE_FIELD_NUMBER: _ClassVar[int]
    size: int
    def __init__(self, size: _Optional[int] = ...) -> None: ...

class SealExportRequest(_message.Message):
    __slots__ = ("tenant_id", "export_id", "paths", "about_json")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    ABOUT_JSON_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    export_id: str
    paths: _containers.RepeatedScalarFieldContainer[str]
    about_json: str
    def __init__(self, tenant_id: _Optional[str] = ..., export_id: _Optional[str] = ..., paths: _Optional[_Iterable[str]] = ..., about_json: _Optional[str] = ...) -> None: ...

class SealExportResponse(_message.Message):
    __slots__ = ("archive_size", "archive_sha256", "entries")
    ARCHIVE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_SHA256_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    archive_size: int
    archive_sha256: str
    entries: int
    def __init__(self, archive_size: _Optional[int] = ..., archive_sha256: _Optional[str] = ..., entries: _Optional[int] = ...) -> None: ...

class PresignExportDownloadRequest(_message.Message):
    __slots__ = ("tenant_id", "export_id", "expires_in_seconds", "filename")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    export_id: str
    expires_in_seconds: int
    filename: str
    def __init__(self, tenant_id: _Optional[str] = ..., export_id: _Optional[str] = ..., expires_in_seconds: _Optional[int] = ..., filename: _Optional[str] = ...) -> None: ...

class PresignExportDownloadResponse(_message.Message):
    __slots__ = ("url", "expire_time", "archive_size")
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_SIZE_FIELD_NUMBER: _ClassVar[int]
    url: str
    expire_time: _timestamp_pb2.Timestamp
    archive_size: int
    def __init__(self, url: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., archive_size: _Optional[int] = ...) -> None: ...

class DeleteExportRequest(_message.Message):
    __slots__ = ("tenant_id", "export_id", "paths")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    export_id: str
    paths: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., export_id: _Optional[str] = ..., paths: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteExportResponse(_message.Message):
    __slots__ = ("archive_deleted",)
    ARCHIVE_DELETED_FIELD_NUMBER: _ClassVar[int]
    archive_deleted: bool
    def __init__(self, archive_deleted: _Optional[bool] = ...) -> None: ...

class EraseUserDataRequest(_message.Message):
    __slots__ = ("tenant_id", "user_id", "page_size", "held_conversation_ids", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    HELD_CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    user_id: str
    page_size: int
    held_conversation_ids: _containers.RepeatedScalarFieldContainer[str]
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., held_conversation_ids: _Optional[_Iterable[str]] = ..., page_token: _Optional[str] = ...) -> None: ...

class EraseUserDataResponse(_message.Message):
    __slots__ = ("media_erased", "more", "skipped_conversation_ids", "next_page_token")
    MEDIA_ERASED_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    media_erased: int
    more: bool
    skipped_conversation_ids: _containers.RepeatedScalarFieldContainer[str]
    next_page_token: str
    def __init__(self, media_erased: _Optional[int] = ..., more: _Optional[bool] = ..., skipped_conversation_ids: _Optional[_Iterable[str]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class EraseTenantDataRequest(_message.Message):
    __slots__ = ("tenant_id", "page_size")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    page_size: int
    def __init__(self, tenant_id: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class EraseTenantDataResponse(_message.Message):
    __slots__ = ("media_erased", "more")
    MEDIA_ERASED_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    media_erased: int
    more: bool
    def __init__(self, media_erased: _Optional[int] = ..., more: _Optional[bool] = ...) -> None: ...
