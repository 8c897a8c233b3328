import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it, vi } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MediaState } from "@caas/gen/caas/media/v1/media_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import { bearer, tenantWithUsers } from "../support/tenants.js";

const platform = inject("embedded");
const cluster = inject("cluster");

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) expect.fail("the call succeeded but should have failed");
  return err;
}

/**
 * A message attachment end to end through the gateway, as a client app does it: CreateUpload,
 * POST the bytes with the returned form, CompleteUpload, SendMessage naming the media; another
 * member reads the message and downloads the bytes; users outside the conversation get NOT_FOUND.
 */
async function attachmentEndToEnd(endpoints: Record<string, string>, adminCredential: string): Promise<void> {
  const gateway = endpoints.gateway!;
  {
    const t = await tenantWithUsers(endpoints.auth!, adminCredential, ["alice", "bob", "mallory"], "attachments");
    const other = await tenantWithUsers(endpoints.auth!, adminCredential, ["bob"], "attachments-other");
    const clients = (token: string) => {
      const transport = createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] });
      return { chat: createClient(ChatService, transport), media: createClient(MediaService, transport) };
    };
    const alice = clients(t.token("alice"));
    const bob = clients(t.token("bob"));
    const mallory = clients(t.token("mallory"));
    const otherBob = clients(other.token("bob"));

    // 1. Upload: reserve, POST the form with the bytes as its last part, confirm.
    const bytes = Buffer.from("%PDF-1.7\nan attachment travelling end to end\n");
    const { media: reserved, upload } = await alice.media.createUpload({ name: "report.pdf", mimeType: "application/pdf", sizeBytes: BigInt(bytes.length) });
    expect(reserved?.state).toBe(MediaState.PENDING);
    const form = new FormData();
    for (const f of upload!.fields) form.append(f.name, f.value);
    form.append(upload!.fileField, new Blob([bytes], { type: upload!.contentType }), "report.pdf");
    const posted = await fetch(upload!.url, { method: upload!.method, body: form });
    expect(posted.status, await posted.clone().text()).toBeLessThan(300);
    const { media } = await alice.media.completeUpload({ mediaId: reserved!.id });
    expect(media).toMatchObject({ state: MediaState.READY, sizeBytes: BigInt(bytes.length), mimeType: "application/pdf" });

    // Not attached yet: only the uploader may read it.
    expect((await failure(bob.media.getDownloadUrl({ mediaId: media!.id }))).code).toBe(Code.NotFound);

    // 2. Send it to a conversation with bob.
    const conversationId = (await alice.chat.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "files" })).conversation!.id;
    const ack = await alice.chat.sendMessage({ conversationId, clientMessageId: "att-e2e-1", text: "the report", attachments: [{ mediaId: media!.id }] });
    // A retry is the same message.
    expect(await alice.chat.sendMessage({ conversationId, clientMessageId: "att-e2e-1", text: "the report", attachments: [{ mediaId: media!.id }] })).toMatchObject({
      messageId: ack.messageId,
      duplicate: true,
    });

    // 3. Bob reads the message and downloads the bytes.
    const { message } = await bob.chat.getMessage({ conversationId, messageId: ack.messageId });
    expect(message!.attachments.map((a) => [a.mediaId, a.mimeType, a.sizeBytes, a.name])).toEqual([[media!.id, "application/pdf", BigInt(bytes.length), "report.pdf"]]);
    const { url } = await bob.media.getDownloadUrl({ mediaId: media!.id });
    const download = await fetch(url);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("application/pdf");
    expect(Buffer.from(await download.arrayBuffer())).toEqual(bytes);

    // 4. Outside the conversation, and in another tenant, the media does not exist.
    expect((await failure(mallory.media.getDownloadUrl({ mediaId: media!.id }))).code).toBe(Code.NotFound);
    expect((await failure(mallory.media.getMedia({ mediaId: media!.id }))).code).toBe(Code.NotFound);
    expect((await failure(otherBob.media.getDownloadUrl({ mediaId: media!.id }))).code).toBe(Code.NotFound);
    expect((await failure(mallory.chat.getMessage({ conversationId, messageId: ack.messageId }))).code).toBe(Code.NotFound);

    // 5. Bob cannot attach alice's upload himself, nor a PENDING one.
    const err = await failure(bob.chat.sendMessage({ conversationId, clientMessageId: "att-e2e-2", attachments: [{ mediaId: media!.id }] }));
    expect([err.code, err.rawMessage]).toEqual([Code.NotFound, "attachments[0].media_id not found"]);
    const pending = (await bob.media.createUpload({ name: "later.txt", mimeType: "text/plain", sizeBytes: 3n })).media!;
    expect((await failure(bob.chat.sendMessage({ conversationId, clientMessageId: "att-e2e-3", attachments: [{ mediaId: pending.id }] }))).code).toBe(Code.FailedPrecondition);

    // 6. Deleted for everyone: the media is detached from the conversation (by chat's consumer of
    // its own events, so shortly after the delete); bob can no longer download it, alice still can.
    await alice.chat.deleteMessage({ conversationId, messageId: ack.messageId });
    await vi.waitFor(async () => expect((await failure(bob.media.getDownloadUrl({ mediaId: media!.id }))).code).toBe(Code.NotFound), { timeout: 20_000, interval: 100 });
    expect((await failure(bob.media.getMedia({ mediaId: media!.id }))).code).toBe(Code.NotFound);
    expect((await alice.media.getDownloadUrl({ mediaId: media!.id })).url).not.toBe("");
  }
}

describe("message attachments through the gateway (embedded platform: SQLite, filesystem blobs)", () => {
  it("uploads, sends a message with the attachment; a member downloads it, a non-member gets NOT_FOUND; deleted, the member no longer can", async () => {
    await attachmentEndToEnd(platform.endpoints, readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim());
  });
});

describe.skipIf(!cluster)("message attachments through the gateway (cluster: two chat instances, MongoDB protocol, S3)", () => {
  it("uploads, sends a message with the attachment; a member downloads it, a non-member gets NOT_FOUND; deleted, the member no longer can", async () => {
    await attachmentEndToEnd(cluster!.endpoints, cluster!.adminToken);
  });
});
