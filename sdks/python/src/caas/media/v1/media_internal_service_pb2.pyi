from buf.validate import validate_pb2 as _validate_pb2
from caas.media.v1 import media_pb2 as _media_pb2
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
