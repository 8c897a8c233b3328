"""An app's path through the gateway with the Python SDK, against an embedded platform this test
starts (node services/platform/dist/main.js; run `npm run build` first), or the one named by
CAAS_TEST_GATEWAY_URL and CAAS_TEST_ADMIN_CREDENTIAL."""

import json
import os
import pathlib
import signal
import subprocess
import threading
import time

import grpc
import pytest

import caas
from caas.auth.v1 import tenant_admin_service_pb2, user_admin_service_pb2
from caas.chat.v1 import chat_service_pb2, conversation_pb2

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    if os.environ.get("CAAS_TEST_GATEWAY_URL"):
        yield os.environ["CAAS_TEST_GATEWAY_URL"], os.environ.get("CAAS_TEST_ADMIN_CREDENTIAL", "")
        return
    main = ROOT / "services/platform/dist/main.js"
    assert main.exists(), f"{main} is missing: run npm run build first"
    data = tmp_path_factory.mktemp("caas-py")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""), "CAAS_MODE": "embedded", "CAAS_DATA_DIR": str(data), "CAAS_LOG_LEVEL": "info", "CAAS_INSTANCE_ID": "py-sdk-smoke"}
    for s in ["GATEWAY", "AUTH", "CHAT", "SOCKET", "MEDIA", "SEARCH", "COMPLIANCE", "CRYPTO"]:
        env[f"CAAS_{s}_PORT"] = "0"
    proc = subprocess.Popen(["node", str(main)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready: dict = {}
    found = threading.Event()

    def read():
        for line in proc.stdout:
            if not found.is_set() and line.startswith("{"):
                entry = json.loads(line)
                if entry.get("msg") == "platform ready":
                    ready.update(entry["endpoints"])
                    found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert found.wait(90), "the embedded platform did not report ready within 90 s"
        yield ready["gateway"], (data / "admin-credential").read_text().strip()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for(session, match, limit=200):
    for _ in range(limit):
        frame = session.receive()
        if match(frame):
            return frame
    raise AssertionError("no matching frame")


def test_two_users_exchange_a_live_message(platform):
    gateway, admin_credential = platform
    admin = caas.Client(gateway, admin_credential)
    tenant = admin.tenant_admin.CreateTenant(tenant_admin_service_pb2.CreateTenantRequest(name=f"py-sdk-{time.time_ns()}")).tenant
    secret = admin.tenant_admin.CreateApiKey(tenant_admin_service_pb2.CreateApiKeyRequest(tenant_id=tenant.id, name="backend")).secret
    backend = caas.Client(gateway, secret)
    tokens = {}
    for user in ["alice", "bob"]:
        backend.user_admin.UpsertUser(user_admin_service_pb2.UpsertUserRequest(user_id=user, display_name=user))
        issued = backend.user_admin.IssueUserToken(user_admin_service_pb2.IssueUserTokenRequest(user_id=user, device_id="py")).tokens
        tokens[user] = caas.SessionTokens(gateway, issued)
    alice = caas.Client(gateway, tokens["alice"])
    bob = caas.Client(gateway, tokens["bob"])

    dm = alice.chat.CreateConversation(chat_service_pb2.CreateConversationRequest(type=conversation_pb2.CONVERSATION_TYPE_DIRECT, member_ids=["bob"])).conversation.id

    session = bob.connect(resume=True)
    assert session.auth_ok.user_id == "bob"
    wait_for(session, lambda f: f.WhichOneof("frame") == "resume_done")

    def send(cid, text):
        return alice.chat.SendMessage(chat_service_pb2.SendMessageRequest(conversation_id=dm, client_message_id=cid, text=text))

    ack = send("py-1", "hello from Python")
    live = wait_for(session, lambda f: f.WhichOneof("frame") == "event" and f.event.conversation_id == dm and f.event.message_created.message.text == "hello from Python")
    assert live.event.seq == ack.seq

    again = send("py-1", "hello from Python")
    assert again.duplicate and again.message_id == ack.message_id and again.seq == ack.seq

    with pytest.raises(caas.CaasError) as bad:
        alice.chat.SendMessage(chat_service_pb2.SendMessageRequest(conversation_id="not-a-uuid", client_message_id="py-2", text="x"))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in bad.value.field_violations] == ["conversation_id"]

    before = tokens["alice"].current.access_token
    tokens["alice"].refresh()
    assert tokens["alice"].current.access_token != before
    send("py-3", "after refresh")

    cursor = session.cursor
    assert cursor
    session.close()
    missed = send("py-4", "while you were away")
    back = bob.connect(resume=True, cursor=cursor)
    try:
        wait_for(back, lambda f: f.WhichOneof("frame") == "changes" and any(e.seq == missed.seq for e in f.changes.events))
    finally:
        back.close()
    for c in (admin, backend, alice, bob):
        c.close()
