import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { FakeClock } from "@caas/shared/clock";
import { scopeFromVerifiedClaims } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { ChatProjector } from "../src/projections/chat-projector.js";
import { ProjectedCommits } from "../src/projections/projected-commits.js";
import { chatEventRecord, CommitCorrelations, PROJECTED_HEADER } from "../src/relay.js";
import { asPrincipal, openInstance, userPrincipal } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-projected-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("projections applied once", () => {
  it("the projector skips each event its instance's commit path projected (once) and applies what it did not", async () => {
    const projected = new ProjectedCommits();
    const inst = await openInstance({ kind: "sqlite", path: join(dir, "chat.db") }, { clock: new FakeClock(), secret: randomBytes(32), projected });
    try {
      const scope = freshTenantScope();
      const alice = asPrincipal(inst.impl, userPrincipal(scope.tenantId, "alice"));
      const conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
      await alice.sendMessage({ conversationId: conv, clientMessageId: randomUUID(), text: "hello" });
      const top = (await inst.stores.events.head(scope, conv)).seq;
      expect(projected.size).toBe(top);

      // Were the projector to apply them again, it would restore this; it trusts the commit path instead.
      await inst.stores.conversations.resetLastMessage(scope, conv);
      const projector = new ChatProjector(inst.stores, undefined, projected);
      for (let seq = 1; seq <= top; seq++) expect(await projector.handle({ tenantId: scope.tenantId, conversationId: conv, seq })).toBe("applied");
      expect(projected.size).toBe(0);
      expect(await inst.stores.projections.position(scope, conv)).toBe(top);
      expect((await inst.stores.conversations.get(scope, conv))?.lastMessage).toBeUndefined();

      // What the commit path did not project (here: after a wipe of the positions) is applied as before.
      await inst.stores.projections.reset(scope, conv);
      for (let seq = 1; seq <= top; seq++) await projector.handle({ tenantId: scope.tenantId, conversationId: conv, seq });
      expect((await inst.stores.conversations.get(scope, conv))?.lastMessage?.textPreview).toBe("hello");
    } finally {
      await inst.close();
    }
  });

  it("the relay marks what the commit path projected, and another instance's projector skips it by that mark", async () => {
    const projected = new ProjectedCommits();
    const inst = await openInstance({ kind: "sqlite", path: join(dir, "marked.db") }, { clock: new FakeClock(), secret: randomBytes(32), projected });
    try {
      const scope = freshTenantScope();
      const alice = asPrincipal(inst.impl, userPrincipal(scope.tenantId, "alice"));
      const conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
      await alice.sendMessage({ conversationId: conv, clientMessageId: randomUUID(), text: "hello" });
      const logs = await inst.stores.events.read(scope, conv, 0, 100);
      const toRecord = chatEventRecord(new CommitCorrelations(), projected);
      expect(logs.map((log) => toRecord(log).headers[PROJECTED_HEADER])).toEqual(logs.map(() => "1"));
      expect(projected.size).toBe(0);
      // Published again (a sweeper, another relay): no mark, so a consumer applies it as before.
      expect(toRecord(logs[0]!).headers[PROJECTED_HEADER]).toBeUndefined();

      await inst.stores.conversations.resetLastMessage(scope, conv);
      const other = new ChatProjector(inst.stores);
      for (const log of logs) expect(await other.handle({ tenantId: scope.tenantId, conversationId: conv, seq: log.seq, projected: true })).toBe("applied");
      expect(await inst.stores.projections.position(scope, conv)).toBe(logs.length);
      expect((await inst.stores.conversations.get(scope, conv))?.lastMessage).toBeUndefined();
    } finally {
      await inst.close();
    }
  });

  it("forgets the oldest entries past its capacity: those are applied twice, never skipped wrongly", () => {
    const projected = new ProjectedCommits(2);
    const t = scopeFromVerifiedClaims({ tenant: "t1" }).tenantId;
    for (const seq of [1, 2, 3]) projected.add({ tenantId: t, conversationId: "c", seq });
    expect(projected.size).toBe(2);
    expect(projected.take(t, "c", 1)).toBe(false);
    expect(projected.take(t, "c", 3)).toBe(true);
    expect(projected.take(t, "c", 3)).toBe(false);
    expect(projected.take("t2", "c", 2)).toBe(false);
    expect(projected.take(t, "c", 2)).toBe(true);
  });
});
