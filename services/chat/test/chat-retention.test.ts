import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, type Client } from "@connectrpc/connect";
import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerChatRoutes } from "../src/routes.js";
import { failure } from "./support/expect.js";
import { sqliteWorld, type Tier1Client, type World } from "./support/harness.js";
import { internalClientAs } from "./support/router.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-retention-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ChatInternalService.ApplyRetention (tier 2: routes with a service principal, fake clock)", () => {
  let w: World;
  let alice: Tier1Client;
  let bob: Tier1Client;
  let svc: Client<typeof ChatInternalService>;
  let room: string;
  let sent = 0;
  const send = (client: Tier1Client, text: string) => client.sendMessage({ conversationId: room, clientMessageId: `r${++sent}`, text });
  const internalAs = (who?: string) => internalClientAs((router) => registerChatRoutes(router, w.instance.impl, w.instance.internal), who);

  /** Every page of a cut, summed. */
  async function applyAll(req: { messageBefore?: Timestamp; mediaBefore?: Timestamp; heldUserIds?: string[]; dryRun?: boolean }): Promise<{ expired: number; held: number; calls: number }> {
    let pageToken = "";
    const sum = { expired: 0, held: 0, calls: 0 };
    do {
      const page = await svc.applyRetention({ tenantId: w.tenantId, conversationId: room, pageSize: 2, ...req, pageToken });
      sum.expired += Number(page.messagesExpired);
      sum.held += Number(page.messagesHeld);
      sum.calls++;
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return sum;
  }

  beforeEach(async () => {
    w = await sqliteWorld(dir, undefined, randomUUID());
    alice = w.as("alice");
    bob = w.as("bob");
    svc = internalAs("svc:compliance");
    room = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
  });
  afterEach(() => w.close());

  it("deletes for everyone exactly the messages sent before the cut, page by page, keeping held senders' and later ones", async () => {
    const old = [await send(alice, "a old 1"), await send(bob, "b old"), await send(alice, "a old 2")];
    w.clock.advance(60_000);
    const cut = w.clock.nowMs();
    w.clock.advance(1);
    await send(alice, "a new");
    const messageBefore = timestampFromMs(cut);

    const dry = await applyAll({ messageBefore, dryRun: true, heldUserIds: ["bob"] });
    expect(dry).toMatchObject({ expired: 2, held: 1 });
    expect((await bob.listMessages({ conversationId: room })).messages.filter((m) => m.deleted)).toEqual([]);

    expect(await applyAll({ messageBefore, heldUserIds: ["bob"] })).toMatchObject({ expired: 2, held: 1 });
    const texts = (await bob.listMessages({ conversationId: room })).messages.map((m) => [m.text, m.deleted]);
    expect(texts).toEqual(
      expect.arrayContaining([
        ["", true],
        ["b old", false],
        ["a new", false],
      ]),
    );
    expect(texts.filter(([, deleted]) => deleted).length).toBe(2);
    // Idempotent; and once bob's hold is gone his old message goes too.
    expect(await applyAll({ messageBefore, heldUserIds: ["bob"] })).toMatchObject({ expired: 0, held: 1 });
    expect(await applyAll({ messageBefore })).toMatchObject({ expired: 1, held: 0 });

    const { events } = await bob.sync({ conversationId: room });
    expect(events.map((e) => Number(e.seq))).toEqual(events.map((_, i) => i + 1));
    const deletes = events.filter((e) => e.payload.case === "messageDeleted");
    expect(deletes.map((e) => (e.payload.case === "messageDeleted" ? [e.payload.value.messageId, e.payload.value.expired, e.actorId] : []))).toEqual([
      [old[0]!.messageId, true, "alice"],
      [old[2]!.messageId, true, "alice"],
      [old[1]!.messageId, true, "bob"],
    ]);
    expect(events.filter((e) => e.redacted).map((e) => Number(e.seq))).toEqual(old.map((o) => Number(o.seq)));
  });

  it("without a message cut changes nothing; refuses bad input, users and unknown conversations", async () => {
    await send(alice, "kept");
    w.clock.advance(60_000);
    expect(await applyAll({ mediaBefore: timestampFromMs(w.clock.nowMs()) })).toMatchObject({ expired: 0, held: 0 });
    expect(await applyAll({})).toMatchObject({ expired: 0, calls: 1 });
    expect((await bob.listMessages({ conversationId: room })).messages.map((m) => m.text)).toEqual(["kept"]);

    const messageBefore = timestampFromMs(w.clock.nowMs());
    expect((await failure(svc.applyRetention({ tenantId: w.tenantId, conversationId: randomUUID(), messageBefore }))).code).toBe(Code.NotFound);
    expect((await failure(svc.applyRetention({ tenantId: randomUUID(), conversationId: room, messageBefore }))).code).toBe(Code.NotFound);
    expect((await failure(svc.applyRetention({ tenantId: w.tenantId, conversationId: room, messageBefore, heldUserIds: ["bad id!"] }))).code).toBe(Code.InvalidArgument);
    expect((await failure(svc.applyRetention({ tenantId: w.tenantId, conversationId: room, messageBefore, pageToken: "forged" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(internalAs("alice").applyRetention({ tenantId: w.tenantId, conversationId: room, messageBefore }))).code).toBe(Code.PermissionDenied);
    expect((await bob.listMessages({ conversationId: room })).messages.map((m) => m.text)).toEqual(["kept"]);
  });
});
