import { newId } from "@caas/shared/ids";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ConversationStore, NewConversation } from "../../src/ports/conversation-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

const T0 = Date.UTC(2026, 0, 1);

function group(o: Partial<NewConversation> = {}): NewConversation {
  return { id: newId(), kind: "group", title: "g", avatarUrl: "", createdBy: "alice", createTimeMs: T0, joinPolicy: "invite_only", ...o };
}

function direct(a: string, b: string, o: Partial<NewConversation> = {}): NewConversation {
  return { id: newId(), kind: "direct", title: "", avatarUrl: "", createdBy: a, createTimeMs: T0, joinPolicy: "closed", directKey: a < b ? `${a}|${b}` : `${b}|${a}`, ...o };
}

/** The ConversationStore contract, run against every adapter. */
export function conversationStoreContract(name: string, open: OpenInstances): void {
  describe(`ConversationStore contract: ${name}`, () => {
    let inst: Instances;
    let store: ConversationStore;
    let scope: TenantScope;

    beforeEach(async () => {
      inst = await open();
      store = inst.a.conversations;
      scope = freshTenantScope();
    });
    afterEach(() => inst.close());

    it("stores a conversation with an empty log projection and reads it back", async () => {
      const input = group({ title: "Team", avatarUrl: "https://x.example/a.png", custom: { "a.b": { $c: [1, "two"] } }, joinPolicy: "open" });
      const { created, conversation } = await store.create(scope, input);
      expect(created).toBe(true);
      const expected = { ...input, updateTimeMs: T0, archived: false, frozen: false, lastSeq: 0, countableSeq: 0, activityMs: T0, changeMs: T0, settingsSeq: 0, deletedSeq: 0 };
      expect(conversation).toEqual(expected);
      expect(await inst.b.conversations.get(scope, input.id)).toEqual(expected);
      expect(await store.get(scope, newId())).toBeUndefined();
    });

    it("applies settings in seq order only, and a deletion for good", async () => {
      const input = group({ title: "Team", custom: { a: 1 } });
      await store.create(scope, input);
      await store.applySettings(scope, input.id, { seq: 3, timeMs: T0 + 30, title: "Renamed", custom: null, archived: true });
      // An older settings event arriving late changes nothing.
      await inst.b.conversations.applySettings(scope, input.id, { seq: 2, timeMs: T0 + 20, title: "Old", avatarUrl: "https://x.example/b.png" });
      let got = await inst.b.conversations.get(scope, input.id);
      expect(got).toMatchObject({ title: "Renamed", avatarUrl: "", archived: true, settingsSeq: 3, updateTimeMs: T0 + 30, joinPolicy: "invite_only", deletedSeq: 0 });
      expect(got?.custom).toBeUndefined();
      await store.applySettings(scope, input.id, { seq: 4, timeMs: T0 + 40, joinPolicy: "open", archived: false, custom: { b: "x" } });
      got = await store.get(scope, input.id);
      expect(got).toMatchObject({ title: "Renamed", archived: false, joinPolicy: "open", custom: { b: "x" }, settingsSeq: 4 });
      // Listed until deleted; the first deletion seq sticks.
      const listed = () => store.listByActivity(scope, { ids: [input.id], includeArchived: true, limit: 10 });
      expect(await listed()).toHaveLength(1);
      await store.applySettings(scope, input.id, { seq: 5, timeMs: T0 + 50, deleted: true });
      await store.applySettings(scope, input.id, { seq: 9, timeMs: T0 + 90, deleted: true });
      expect(await store.get(scope, input.id)).toMatchObject({ deletedSeq: 5 });
      expect(await listed()).toEqual([]);
      // Other tenants and unknown ids are untouched and no error.
      await store.applySettings(freshTenantScope(), input.id, { seq: 10, timeMs: T0, title: "X" });
      await store.applySettings(scope, newId(), { seq: 10, timeMs: T0, title: "X" });
      expect((await store.get(scope, input.id))?.title).toBe("Renamed");
      await expect(store.applySettings(scope, input.id, { seq: -1, timeMs: T0, title: "X" })).rejects.toThrow(RangeError);
    });

    it("keeps one DIRECT conversation per pair, also when two instances create it at once", async () => {
      const [x, y] = await Promise.all([store.create(scope, direct("ann", "bob")), inst.b.conversations.create(scope, direct("bob", "ann"))]);
      expect([x.created, y.created].sort()).toEqual([false, true]);
      expect(x.conversation.id).toBe(y.conversation.id);
      expect(x.conversation.directKey).toBe("ann|bob");
      const again = await store.create(scope, direct("ann", "bob"));
      expect(again).toMatchObject({ created: false, conversation: { id: x.conversation.id } });
      // Another pair and groups are independent.
      expect((await store.create(scope, direct("ann", "cid"))).created).toBe(true);
      expect((await store.create(scope, group())).created).toBe(true);
    });

    it("keeps the end-to-end encrypted flag, unset meaning plaintext, per tenant", async () => {
      const secret = group({ e2ee: true });
      const plain = group();
      expect((await store.create(scope, secret)).conversation.e2ee).toBe(true);
      await store.create(scope, plain);
      expect((await inst.b.conversations.get(scope, secret.id))?.e2ee).toBe(true);
      expect((await inst.b.conversations.get(scope, plain.id))?.e2ee).toBeUndefined();
      expect(await store.get(freshTenantScope(), secret.id)).toBeUndefined();
      // A pair's encrypted DIRECT conversation is another one than its plaintext one.
      const x = await store.create(scope, direct("ann", "bob"));
      const y = await store.create(scope, direct("ann", "bob", { e2ee: true, directKey: "ann|bob|e2ee" }));
      expect([x.created, y.created, y.conversation.e2ee]).toEqual([true, true, true]);
      expect(y.conversation.id).not.toBe(x.conversation.id);
      await expect(store.create(scope, group({ e2ee: "yes" as unknown as boolean }))).rejects.toThrow(RangeError);
    });

    it("refuses a second conversation with an existing id", async () => {
      const input = group();
      await store.create(scope, input);
      await expect(store.create(scope, { ...input, title: "other" })).rejects.toThrow();
      expect((await store.get(scope, input.id))?.title).toBe("g");
    });

    it("moves the projection forward only, in any order and from any instance", async () => {
      const { conversation: c } = await store.create(scope, group());
      const summary = (seq: number) => ({ messageId: newId(), seq, senderId: "bob", textPreview: `m${seq}`, attachmentCount: 0, createTimeMs: T0 + seq });
      await inst.b.conversations.recordEvent(scope, c.id, { seq: 5, countableSeq: 3, timeMs: T0 + 50, activity: true, lastMessage: summary(5) });
      await store.recordEvent(scope, c.id, { seq: 4, countableSeq: 2, timeMs: T0 + 40, activity: true, lastMessage: summary(4) });
      await store.recordEvent(scope, c.id, { seq: 6, countableSeq: 3, timeMs: T0 + 60, activity: false });
      await store.recordEvent(scope, c.id, { seq: 6, countableSeq: 3, timeMs: T0 + 60, activity: false });
      await store.recordEvent(scope, newId(), { seq: 1, countableSeq: 0, timeMs: T0, activity: true });
      const got = (await store.get(scope, c.id))!;
      expect(got).toMatchObject({ lastSeq: 6, countableSeq: 3, activityMs: T0 + 50, changeMs: T0 + 60 });
      expect(got.lastMessage).toMatchObject({ seq: 5, textPreview: "m5" });
    });

    it("redacts the last message's preview only when it is the message at that seq, idempotently and per tenant", async () => {
      const { conversation: c } = await store.create(scope, group());
      const summary = (seq: number) => ({ messageId: newId(), seq, senderId: "bob", textPreview: `secret${seq}`, attachmentCount: 2, createTimeMs: T0 + seq });
      await store.redactLastMessage(scope, c.id, [1]);
      expect((await store.get(scope, c.id))?.lastMessage).toBeUndefined();
      await store.recordEvent(scope, c.id, { seq: 3, countableSeq: 1, timeMs: T0 + 3, activity: true, lastMessage: summary(3) });
      // Another seq, another tenant, an unknown id: nothing changes.
      await store.redactLastMessage(scope, c.id, [2]);
      await store.redactLastMessage(freshTenantScope(), c.id, [3]);
      await store.redactLastMessage(scope, newId(), [3]);
      expect((await store.get(scope, c.id))?.lastMessage).toMatchObject({ seq: 3, textPreview: "secret3", attachmentCount: 2 });
      await store.redactLastMessage(scope, c.id, [3]);
      await inst.b.conversations.redactLastMessage(scope, c.id, [3]);
      const got = (await inst.b.conversations.get(scope, c.id))!;
      expect(got.lastMessage).toEqual({ ...summary(3), messageId: got.lastMessage!.messageId, textPreview: "", attachmentCount: 0, deleted: true });
      // A replayed event at the same seq does not bring the text back; a newer message replaces the tombstone.
      await store.recordEvent(scope, c.id, { seq: 3, countableSeq: 1, timeMs: T0 + 3, activity: true, lastMessage: summary(3) });
      expect((await store.get(scope, c.id))?.lastMessage).toMatchObject({ textPreview: "", deleted: true });
      await store.recordEvent(scope, c.id, { seq: 4, countableSeq: 2, timeMs: T0 + 4, activity: true, lastMessage: summary(4) });
      expect((await store.get(scope, c.id))?.lastMessage).toMatchObject({ seq: 4, textPreview: "secret4" });
      expect((await store.get(scope, c.id))?.lastMessage?.deleted).toBeUndefined();
      await expect(store.redactLastMessage(scope, c.id, [-1])).rejects.toThrow(RangeError);
      // A page of seqs: the one that is the last message is redacted, the others change nothing.
      await store.recordEvent(scope, c.id, { seq: 7, countableSeq: 3, timeMs: T0 + 7, activity: true, lastMessage: summary(7) });
      await store.redactLastMessage(scope, c.id, [5, 6, 8]);
      expect((await store.get(scope, c.id))?.lastMessage).toMatchObject({ seq: 7, textPreview: "secret7" });
      await store.redactLastMessage(scope, c.id, []);
      await store.redactLastMessage(scope, c.id, [5, 7, 8]);
      expect((await store.get(scope, c.id))?.lastMessage).toMatchObject({ seq: 7, textPreview: "", attachmentCount: 0, deleted: true });
    });

    it("replaces the preview text of the last message only while it is that message and not deleted, per tenant", async () => {
      const { conversation: c } = await store.create(scope, group());
      const summary = (seq: number) => ({ messageId: newId(), seq, senderId: "bob", textPreview: `sealed-old${seq}`, attachmentCount: 1, createTimeMs: T0 + seq });
      await store.replacePreview(scope, c.id, 1, "nothing yet");
      expect((await store.get(scope, c.id))?.lastMessage).toBeUndefined();
      await store.recordEvent(scope, c.id, { seq: 3, countableSeq: 1, timeMs: T0 + 3, activity: true, lastMessage: summary(3) });
      await store.replacePreview(scope, c.id, 2, "another message");
      await store.replacePreview(freshTenantScope(), c.id, 3, "another tenant");
      expect((await store.get(scope, c.id))?.lastMessage).toMatchObject({ seq: 3, textPreview: "sealed-old3", attachmentCount: 1 });
      await inst.b.conversations.replacePreview(scope, c.id, 3, "sealed-new3");
      const got = (await store.get(scope, c.id))!.lastMessage!;
      expect(got).toEqual({ ...summary(3), messageId: got.messageId, textPreview: "sealed-new3" });
      // A deletion in between wins: the tombstone stays empty.
      await store.redactLastMessage(scope, c.id, [3]);
      await store.replacePreview(scope, c.id, 3, "sealed-newer3");
      expect((await store.get(scope, c.id))?.lastMessage).toMatchObject({ textPreview: "", deleted: true });
      await expect(store.replacePreview(scope, c.id, -1, "x")).rejects.toThrow(RangeError);
    });

    it("lists by activity, newest first, with a keyset, a kind filter and only the given ids", async () => {
      const made = [];
      for (let i = 0; i < 5; i++) {
        const { conversation } = await store.create(scope, i === 4 ? direct("ann", `u${i}`) : group());
        await store.recordEvent(scope, conversation.id, { seq: 1, countableSeq: 0, timeMs: T0 + (i % 3) * 10, activity: true });
        made.push(conversation.id);
      }
      const stranger = (await store.create(scope, group())).conversation.id;
      const ids = [...made];
      const all = await store.listByActivity(scope, { ids, includeArchived: false, limit: 10 });
      expect(all.map((c) => c.id)).not.toContain(stranger);
      const keys = all.map((c) => [c.activityMs, c.id] as const);
      expect(keys).toEqual([...keys].sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? 1 : -1)));
      expect(all).toHaveLength(5);
      const first = await store.listByActivity(scope, { ids, includeArchived: false, limit: 2 });
      const rest = await store.listByActivity(scope, { ids, includeArchived: false, limit: 10, after: { activityMs: first[1]!.activityMs, id: first[1]!.id } });
      expect([...first, ...rest].map((c) => c.id)).toEqual(all.map((c) => c.id));
      const directs = await store.listByActivity(scope, { ids, includeArchived: false, limit: 10, kind: "direct" });
      expect(directs.map((c) => c.id)).toEqual([made[4]]);
      expect(await store.listByActivity(scope, { ids: [], includeArchived: false, limit: 10 })).toEqual([]);
    });

    it("lists by change, oldest first, after a time and a keyset", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const { conversation } = await store.create(scope, group());
        await store.recordEvent(scope, conversation.id, { seq: 1, countableSeq: 0, timeMs: T0 + i * 10, activity: false });
        ids.push(conversation.id);
      }
      const all = await store.listByChange(scope, { ids, limit: 10 });
      expect(all.map((c) => c.id)).toEqual(ids);
      expect((await store.listByChange(scope, { ids, limit: 10, changedAfterMs: T0 + 10 })).map((c) => c.id)).toEqual(ids.slice(2));
      expect((await store.listByChange(scope, { ids, limit: 1, after: { changeMs: T0 + 10, id: ids[1]! } })).map((c) => c.id)).toEqual([ids[2]]);
      expect((await store.getMany(scope, [ids[3]!, ids[0]!, newId()])).map((c) => c.id).sort()).toEqual([ids[0], ids[3]].sort());
    });

    it("keeps tenants apart", async () => {
      const other = freshTenantScope();
      const { conversation: mine } = await store.create(scope, direct("ann", "bob"));
      expect(await store.get(other, mine.id)).toBeUndefined();
      expect(await store.getMany(other, [mine.id])).toEqual([]);
      expect(await store.listByActivity(other, { ids: [mine.id], includeArchived: true, limit: 10 })).toEqual([]);
      expect(await store.listByChange(other, { ids: [mine.id], limit: 10 })).toEqual([]);
      // The same pair in another tenant is another conversation.
      const theirs = await store.create(other, direct("ann", "bob"));
      expect(theirs.created).toBe(true);
      expect(theirs.conversation.id).not.toBe(mine.id);
      await store.recordEvent(other, mine.id, { seq: 9, countableSeq: 9, timeMs: T0 + 9, activity: true });
      expect((await store.get(scope, mine.id))?.lastSeq).toBe(0);
    });

    it("scans one tenant's live conversations in id order, a keyset page at a time", async () => {
      const other = freshTenantScope();
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await store.create(scope, group({ title: `g${i}` }))).conversation.id);
      ids.push((await store.create(scope, direct("ann", "bob"))).conversation.id);
      const theirs = [(await store.create(other, group())).conversation.id, (await store.create(other, direct("ann", "bob"))).conversation.id];
      // A deleted conversation never appears; an archived one does.
      await store.applySettings(scope, ids[3]!, { seq: 2, timeMs: T0 + 2, deleted: true });
      await store.applySettings(scope, ids[4]!, { seq: 2, timeMs: T0 + 2, archived: true });
      const live = ids.filter((id) => id !== ids[3]).sort();
      const pages: string[][] = [];
      let afterId: string | undefined;
      for (;;) {
        const page = await (pages.length % 2 === 0 ? store : inst.b.conversations).scan(scope, { ...(afterId ? { afterId } : {}), limit: 3 });
        if (page.length === 0) break;
        pages.push(page.map((c) => c.id));
        afterId = page[page.length - 1]!.id;
      }
      expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
      expect(pages.flat()).toEqual(live);
      const all = await store.scan(scope, { limit: 1000 });
      expect(all.find((c) => c.id === ids[4])).toMatchObject({ archived: true, title: "g4" });
      expect(all.find((c) => c.kind === "direct")?.directKey).toBe("ann|bob");
      expect((await store.scan(other, { limit: 1000 })).map((c) => c.id)).toEqual([...theirs].sort());
      expect(await store.scan(freshTenantScope(), { limit: 10 })).toEqual([]);
      expect(await store.scan(scope, { afterId: live[live.length - 1]!, limit: 10 })).toEqual([]);
      await expect(store.scan(scope, { limit: 0 })).rejects.toThrow(RangeError);
      await expect(store.scan(scope, { limit: 1001 })).rejects.toThrow(RangeError);
      await expect(store.scan(scope, { afterId: "a|b", limit: 1 })).rejects.toThrow(RangeError);
    });

    it("refuses arguments every adapter refuses", async () => {
      await expect(store.get({ tenantId: scope.tenantId } as TenantScope, newId())).rejects.toThrow(TypeError);
      await expect(store.get(scope, "a|b")).rejects.toThrow(RangeError);
      await expect(store.create(scope, { ...group(), directKey: "a|b" })).rejects.toThrow(RangeError);
      await expect(store.create(scope, { ...direct("a", "b"), directKey: undefined })).rejects.toThrow(RangeError);
      await expect(store.listByActivity(scope, { ids: [], includeArchived: false, limit: 0 })).rejects.toThrow(RangeError);
      await expect(store.recordEvent(scope, newId(), { seq: -1, countableSeq: 0, timeMs: T0, activity: true })).rejects.toThrow(RangeError);
    });
  });
}
