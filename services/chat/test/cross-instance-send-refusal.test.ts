import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { FakeClock } from "@caas/shared/clock";
import { connectMongo } from "@caas/shared/mongo";
import { freshTenantScope, infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChatBackend } from "../src/chat-stores.js";
import { expectCode } from "./support/expect.js";
import { asPrincipal, openInstance, userPrincipal, type Instance, type Tier1Client } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-cross-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The send path authorizes against the store of record (ADR 0105, 0215): a ban, leave, freeze or
 * mute committed through one chat instance refuses the very next send through the other, even
 * right after that instance admitted a send of the same user in the same conversation.
 */
function suite(name: string, backend: () => ChatBackend): void {
  describe(`a send after a moderation change on the other instance: ${name}`, () => {
    const clock = new FakeClock();
    const secret = randomBytes(32);
    let one: Instance;
    let two: Instance;
    let conv: string;
    let tenantId: string;
    const on = (inst: Instance, user: string): Tier1Client => asPrincipal(inst.impl, userPrincipal(tenantId, user));
    const sendOnTwo = () => on(two, "bob").sendMessage({ conversationId: conv, clientMessageId: randomUUID(), text: "hi" });

    beforeEach(async () => {
      const where = backend();
      one = await openInstance(where, { clock, secret });
      two = await openInstance(where, { clock, secret });
      tenantId = freshTenantScope().tenantId;
      conv = (await on(one, "alice").createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
      // The other instance has just admitted bob's send here: whatever it remembers is warm.
      expect((await sendOnTwo()).seq).toBeGreaterThan(0n);
    });
    afterEach(async () => {
      await one.close();
      await two.close();
    });

    it("refuses the send of a member banned through the other instance (NOT_FOUND: no longer a member)", async () => {
      await on(one, "alice").banMember({ conversationId: conv, userId: "bob" });
      await expectCode(sendOnTwo(), Code.NotFound);
    });

    it("refuses the send of a member who left through the other instance", async () => {
      await on(one, "bob").leaveConversation({ conversationId: conv });
      await expectCode(sendOnTwo(), Code.NotFound);
    });

    it("refuses a member's send in a conversation frozen through the other instance", async () => {
      await on(one, "alice").freezeConversation({ conversationId: conv, reason: "cool down" });
      await expectCode(sendOnTwo(), Code.FailedPrecondition);
    });

    it("refuses the send of a member muted through the other instance", async () => {
      await on(one, "alice").muteMember({ conversationId: conv, userId: "bob" });
      await expectCode(sendOnTwo(), Code.PermissionDenied);
    });
  });
}

suite("sqlite (one file, two connections)", () => ({ kind: "sqlite", path: join(dir, `chat-${randomUUID()}.db`) }));

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_chat_cross_instance`;
describe.skipIf(!mongoUrl)("on the MongoDB protocol (FerretDB here)", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });
  suite("mongodb protocol (two clients)", () => ({
    kind: "mongo",
    url: mongoUrl!,
    database: dbName,
    appName: "chat-cross-instance-test",
    collectionPrefix: `t${randomUUID().replace(/-/g, "").slice(0, 10)}_`,
  }));
});
