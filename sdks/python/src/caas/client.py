"""A thin client for a CAAS gateway over grpcio: every public service's stub on one channel, a
bearer token on each call, typed errors, token refresh and realtime sessions that resume."""

from __future__ import annotations

import itertools
import queue
import threading
import time
from typing import Callable, Iterator, Union

import grpc

from caas.auth.v1 import auth_service_pb2, auth_service_pb2_grpc, tenant_admin_service_pb2_grpc, token_pb2, user_admin_service_pb2_grpc
from caas.chat.v1 import chat_service_pb2_grpc
from caas.errors import CaasError
from caas.gateway.v1 import gateway_service_pb2_grpc
from caas.media.v1 import media_service_pb2_grpc
from caas.realtime.v1 import frame_pb2, realtime_service_pb2, realtime_service_pb2_grpc

TokenSource = Union[str, Callable[[], str]]
"""A fixed credential (API key, admin credential, access token) or a callable asked before each call."""

REFRESH_MARGIN_S = 30.0
"""An access token is replaced this long before it expires."""


class Client:
    """Stubs of the gateway's public services on one channel (``target`` like
    ``127.0.0.1:3000`` or ``http://127.0.0.1:3000``; ``https://`` uses TLS). Calls carry
    ``authorization: Bearer <token>``; a refused call raises ``CaasError``."""

    def __init__(self, target: str, token: TokenSource | None = None, *, channel: grpc.Channel | None = None):
        secure = target.startswith("https://")
        address = target.split("://", 1)[-1].rstrip("/")
        base = channel or (grpc.secure_channel(address, grpc.ssl_channel_credentials()) if secure else grpc.insecure_channel(address))
        self._base = base
        self._token = token
        self.channel = grpc.intercept_channel(base, _Interceptor(token))
        self.tenant_admin = tenant_admin_service_pb2_grpc.TenantAdminServiceStub(self.channel)
        self.user_admin = user_admin_service_pb2_grpc.UserAdminServiceStub(self.channel)
        self.auth = auth_service_pb2_grpc.AuthServiceStub(self.channel)
        self.chat = chat_service_pb2_grpc.ChatServiceStub(self.channel)
        self.media = media_service_pb2_grpc.MediaServiceStub(self.channel)
        self.realtime = realtime_service_pb2_grpc.RealtimeServiceStub(self.channel)
        self.platform = gateway_service_pb2_grpc.PlatformServiceStub(self.channel)

    def connect(self, *, resume: bool = False, cursor: str = "") -> "RealtimeSession":
        """Opens a realtime session (RealtimeService.Connect); see RealtimeSession."""
        return RealtimeSession(self.realtime, resume=resume, cursor=cursor)

    def close(self) -> None:
        self._base.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SessionTokens:
    """A token source for one signed-in session: returns the access token, and first exchanges the
    refresh token for a new pair (AuthService.RefreshToken; refresh tokens rotate) when the access
    token expires within REFRESH_MARGIN_S. ``on_refresh`` is told each new pair. Thread-safe."""

    def __init__(self, target: str, tokens: token_pb2.SessionTokens, on_refresh: Callable[[token_pb2.SessionTokens], None] | None = None):
        self._auth = Client(target).auth
        self._tokens = tokens
        self._lock = threading.Lock()
        self.on_refresh = on_refresh

    def __call__(self) -> str:
        with self._lock:
            expires = self._tokens.access_token_expire_time.ToSeconds() if self._tokens.HasField("access_token_expire_time") else None
            if expires is None or time.time() + REFRESH_MARGIN_S >= expires:
                self._refresh_locked()
            return self._tokens.access_token

    def refresh(self) -> None:
        """Replaces the pair now (e.g. after UNAUTHENTICATED)."""
        with self._lock:
            self._refresh_locked()

    @property
    def current(self) -> token_pb2.SessionTokens:
        with self._lock:
            return self._tokens

    def _refresh_locked(self) -> None:
        res = self._auth.RefreshToken(auth_service_pb2.RefreshTokenRequest(refresh_token=self._tokens.refresh_token))
        self._tokens = res.tokens
        if self.on_refresh:
            self.on_refresh(self._tokens)


_END = object()


class RealtimeSession:
    """One realtime connection on the gRPC bidi stream, authenticated by the channel's token (the
    server answers AuthOk first, kept in ``auth_ok``), resumed from ``cursor`` when ``resume`` is
    set. ``cursor`` always holds the latest cursor the server gave (ResumeDone, Checkpoint), for
    the next session to resume from."""

    def __init__(self, stub: realtime_service_pb2_grpc.RealtimeServiceStub, *, resume: bool = False, cursor: str = ""):
        self._outbox: "queue.Queue[object]" = queue.Queue()
        self._ids = itertools.count(1)
        self.cursor = cursor
        self._call = stub.Connect(self._requests())
        first = self.receive()
        if first.WhichOneof("frame") != "auth_ok":
            self.close()
            raise RuntimeError(f"realtime auth refused: {first}")
        self.auth_ok = first.auth_ok
        if resume:
            self.send(frame_pb2.ClientFrame(resume=frame_pb2.Resume(cursor=cursor)))

    def _requests(self) -> Iterator[realtime_service_pb2.ConnectRequest]:
        while True:
            item = self._outbox.get()
            if item is _END:
                return
            yield item  # type: ignore[misc]

    def send(self, frame: frame_pb2.ClientFrame) -> int:
        """Queues a frame for sending, numbering it when it has no id; returns the id (replies carry it in reply_to)."""
        if frame.id == 0:
            frame.id = next(self._ids)
        self._outbox.put(realtime_service_pb2.ConnectRequest(frame=frame))
        return frame.id

    def receive(self) -> frame_pb2.ServerFrame:
        """The next frame from the server (blocks); remembers any cursor it carries."""
        try:
            frame = next(self._call).frame
        except grpc.RpcError as err:
            raise CaasError.from_rpc_error(err) from err
        which = frame.WhichOneof("frame")
        if which == "resume_done" and frame.resume_done.cursor:
            self.cursor = frame.resume_done.cursor
        elif which == "checkpoint" and frame.checkpoint.cursor:
            self.cursor = frame.checkpoint.cursor
        return frame

    def close(self) -> None:
        self._outbox.put(_END)
        self._call.cancel()


class _Interceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor, grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds the bearer token; turns a unary call's failure into CaasError."""

    def __init__(self, token: TokenSource | None):
        self._token = token

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        if self._token is None:
            return details
        metadata = list(details.metadata or [])
        if not any(k == "authorization" for k, _ in metadata):
            token = self._token() if callable(self._token) else self._token
            metadata.append(("authorization", f"Bearer {token}"))
        return _CallDetails(details.method, details.timeout, metadata, details.credentials, details.wait_for_ready, details.compression)

    def intercept_unary_unary(self, continuation, client_call_details, request):
        outcome = continuation(self._details(client_call_details), request)
        err = outcome.exception()
        if isinstance(err, grpc.RpcError) and not isinstance(err, CaasError):
            raise CaasError.from_rpc_error(err) from err
        return outcome

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, method, timeout, metadata, credentials, wait_for_ready, compression):
        self.method = method
        self.timeout = timeout
        self.metadata = metadata
        self.credentials = credentials
        self.wait_for_ready = wait_for_ready
        self.compression = compression
