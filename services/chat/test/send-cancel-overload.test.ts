import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, createHandlerContext } from "@connectrpc/connect";
import { ChatService, SendMessageRequestSchema } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { principalKey } from "@caas/shared/context";
import { toConnectError } from "@caas/shared/errors";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { sqliteWorld, userPrincipal, type World } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-cancel-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("SendMessage under cancellation and overload (tier 1: the class)", () => {
  let w: World;
  let conv: string;

  /** Calls SendMessage as bob with a handler context whose request signal is `signal` (the text is the client_message_id unless given). */
  const sendAsBob = (clientMessageId: string, signal?: AbortSignal, text = clientMessageId) =>
    w.instance.impl.sendMessage(
      create(SendMessageRequestSchema, { conversationId: conv, clientMessageId, text }),
      createHandlerContext({
        service: ChatService,
        method: ChatService.method.sendMessage,
        protocolName: "connect",
        requestMethod: "POST",
        url: "http://chat.test/",
        ...(signal ? { requestSignal: signal } : {}),
        contextValues: createContextValues().set(principalKey, userPrincipal(w.tenantId, "bob")),
      }),
    );
  const logged = async () => (await w.as("alice").sync({ conversationId: conv })).events.map((e) => e.seq);

  describe("cancellation", () => {
    beforeEach(async () => {
      w = await sqliteWorld(dir);
      conv = (await w.as("alice").createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    });
    afterEach(() => w.close());

    it("abandons a send whose caller is gone before the commit: nothing is written, and a retry commits it once", async () => {
      const gone = new AbortController();
      gone.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
      await expect(sendAsBob("c-early", gone.signal)).rejects.toMatchObject({ code: Code.DeadlineExceeded });

      // The caller leaves while the send waits for its turn at the log (behind other appends).
      const events = w.instance.stores.events;
      const append = events.append.bind(events);
      const leaving = new AbortController();
      events.append = (scope, input) => {
        leaving.abort();
        return append(scope, input);
      };
      await expect(sendAsBob("c-late", leaving.signal)).rejects.toMatchObject({ code: Code.Canceled });
      events.append = append;
      expect(await logged()).toEqual([1n]);
      expect(w.instance.commits.map((e) => e.seq)).toEqual([1]);

      const retry = await sendAsBob("c-late");
      expect(retry).toMatchObject({ seq: 2n, duplicate: false });
      expect(await logged()).toEqual([1n, 2n]);
    });

    it("keeps a send that committed before its caller left; the retry returns its ack", async () => {
      const leaving = new AbortController();
      const conversations = w.instance.stores.conversations;
      const recordEvent = conversations.recordEvent.bind(conversations);
      conversations.recordEvent = (scope, id, summary) => {
        leaving.abort(); // after the commit, while the projection moves
        return recordEvent(scope, id, summary);
      };
      const ack = await sendAsBob("c-kept", leaving.signal);
      conversations.recordEvent = recordEvent;
      expect(ack).toMatchObject({ seq: 2n, duplicate: false });
      expect(await sendAsBob("c-kept")).toEqual({ ...ack, duplicate: true });
      expect(await logged()).toEqual([1n, 2n]);
    });
  });

  describe("load shedding", () => {
    beforeEach(async () => {
      w = await sqliteWorld(dir, { maxPendingSends: 2, overloadRetryMs: 750 });
      conv = (await w.as("alice").createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    });
    afterEach(() => w.close());

    /** Holds every append to the log until `release()`, which also puts the log's own append back. */
    const holdLog = () => {
      const events = w.instance.stores.events;
      const append = events.append.bind(events);
      let open!: () => void;
      const held = new Promise<void>((r) => (open = r));
      events.append = async (scope, input) => {
        await held;
        return append(scope, input);
      };
      return () => {
        open();
        events.append = append;
      };
    };

    it("refuses sends past the instance's bound RESOURCE_EXHAUSTED with a retry delay, then admits again", async () => {
      // Hold the log so two sends stay in progress.
      const release = holdLog();
      const inProgress = [sendAsBob("c-1"), sendAsBob("c-2")];
      const refused = await sendAsBob("c-3").then(
        () => undefined,
        (err: unknown) => toConnectError(err),
      );
      expect(refused?.code).toBe(Code.ResourceExhausted);
      const [retryInfo] = refused!.findDetails(RetryInfoSchema);
      expect(retryInfo?.retryDelay).toMatchObject({ seconds: 0n, nanos: 750_000_000 });
      release();
      expect((await Promise.all(inProgress)).map((a) => a.seq)).toEqual([2n, 3n]);
      // Nothing of the refused send was written; once there is room it goes through.
      expect(await logged()).toEqual([1n, 2n, 3n]);
      expect(await sendAsBob("c-3")).toMatchObject({ seq: 4n, duplicate: false });
    });

    it("answers the same request again, once committed, from memory, even while full; another payload under its id takes the full path", async () => {
      const done = await sendAsBob("c-done");
      expect(done).toMatchObject({ seq: 2n, duplicate: false });
      const release = holdLog();
      const inProgress = [sendAsBob("c-1"), sendAsBob("c-2")];
      // Full: a new send is refused, but the committed one's ack comes back (its client never got it).
      expect(await sendAsBob("c-new").catch((err: unknown) => toConnectError(err).code)).toBe(Code.ResourceExhausted);
      expect(await sendAsBob("c-done")).toEqual({ ...done, duplicate: true });
      expect(await sendAsBob("c-done", undefined, "another text").catch((err: unknown) => toConnectError(err).code)).toBe(Code.ResourceExhausted);
      release();
      await Promise.all(inProgress);
      expect(await sendAsBob("c-done", undefined, "another text").catch((err: unknown) => toConnectError(err).code)).toBe(Code.AlreadyExists);
      expect(await logged()).toEqual([1n, 2n, 3n, 4n]);
    });
  });
});
