import { chatEventAad, eventBytes, openBody, unreadableEvent } from "@caas/shared/sealing/chat-events";
import { seal } from "@caas/shared/sealing/box";
import { FailedPreconditionError } from "@caas/shared/errors";
import type { EventLogStore, LogEvent } from "@caas/shared/eventing/log";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { MessageKeyring } from "./message-keyring.js";

/**
 * The conversation log with every entry's body sealed at rest (ADR 0120): the store holds the
 * serialized Event encrypted with the tenant's current data key (AES-256-GCM, bound to tenant,
 * conversation and seq), and every read opens it, so the rest of chat sees the Event as before.
 * An entry whose key was destroyed (crypto-shredding) reads as its redacted form. Every sealed
 * write is confirmed against the store of record after its commit (`MessageKeyring.confirm`), so
 * no instance acknowledges a write under a key another instance destroyed (FAILED_PRECONDITION instead). Bodies written
 * before sealing existed (or with `sealWrites` off, CAAS_AT_REST_ENCRYPTION=off) are read as they are.
 *
 * The outbox side (`unpublished`) hands out the stored, sealed bodies unopened: the relay
 * publishes them as they are (`sealed_event`), and each consumer opens once per record. So do
 * `scanTenant` and `rewriteBody`, which serve the re-encryption job.
 */
export function sealedEventLog(inner: EventLogStore, keys: MessageKeyring, opts: { sealWrites?: boolean } = {}): EventLogStore {
  const sealWrites = opts.sealWrites ?? true;
  const openOne = async (e: LogEvent): Promise<LogEvent> => {
    const body = await openBody(keys, e.tenantId, e.body, chatEventAad(e.tenantId, e.conversationId, e.seq));
    if (body === e.body) return e;
    return body ? { ...e, body } : { ...e, redacted: true, body: eventBytes(unreadableEvent(e)) };
  };
  const openAll = (events: LogEvent[]): Promise<LogEvent[]> => Promise.all(events.map(openOne));
  // A write sealed under a cached key that another instance destroyed is not acknowledged (the entry reads as redacted).
  const confirmKey = async (tenantId: string, keyId: string) => {
    if (!(await keys.confirm(tenantId, keyId))) throw new FailedPreconditionError("the tenant's data keys were destroyed while this write was committed: it is not kept (it reads as deleted)");
  };
  return {
    async append(scope: TenantScope, input) {
      if (!sealWrites) {
        const result = await inner.append(scope, input);
        return result.kind === "appended" ? result : { kind: result.kind, event: await openOne(result.event) };
      }
      const key = await keys.current(scope.tenantId);
      let plain: Uint8Array | undefined;
      const result = await inner.append(scope, {
        ...input,
        encode: (assigned) => {
          plain = input.encode(assigned);
          return seal(key, plain, chatEventAad(scope.tenantId, input.conversationId, assigned.seq));
        },
      });
      if (result.kind === "appended" && plain) {
        await confirmKey(scope.tenantId, key.id);
        return { kind: "appended", event: { ...result.event, body: plain }, stored: result.event };
      }
      return { kind: result.kind, event: await openOne(result.event) };
    },
    async appendBatch(scope: TenantScope, inputs) {
      if (!sealWrites) {
        const results = await inner.appendBatch(scope, inputs);
        return Promise.all(results.map(async (r) => (r.kind === "appended" ? r : { kind: r.kind, event: await openOne(r.event) })));
      }
      const key = await keys.current(scope.tenantId);
      const plain = new Map<number, Uint8Array>();
      const results = await inner.appendBatch(
        scope,
        inputs.map((input, i) => ({
          ...input,
          encode: (assigned: { seq: number; countableSeq: number; createTimeMs: number }) => {
            const bytes = input.encode(assigned);
            plain.set(i, bytes);
            return seal(key, bytes, chatEventAad(scope.tenantId, input.conversationId, assigned.seq));
          },
        })),
      );
      // One confirmation for the whole batch: every entry was sealed under the same key.
      if (results.some((r) => r.kind === "appended")) await confirmKey(scope.tenantId, key.id);
      return Promise.all(
        results.map(async (r, i) =>
          r.kind === "appended" && plain.has(i) ? { kind: r.kind, event: { ...r.event, body: plain.get(i)! }, stored: r.event } : { kind: r.kind, event: await openOne(r.event) },
        ),
      );
    },
    read: async (scope, conversationId, afterSeq, limit) => openAll(await inner.read(scope, conversationId, afterSeq, limit)),
    head: (scope, conversationId, hint) => inner.head(scope, conversationId, hint),
    async findByClientMessageId(scope, conversationId, actorId, clientMessageId) {
      const e = await inner.findByClientMessageId(scope, conversationId, actorId, clientMessageId);
      return e && openOne(e);
    },
    async redact(scope, conversationId, seq, body) {
      if (!sealWrites) return inner.redact(scope, conversationId, seq, body);
      const key = await keys.current(scope.tenantId);
      await inner.redact(scope, conversationId, seq, seal(key, body, chatEventAad(scope.tenantId, conversationId, seq)));
      await confirmKey(scope.tenantId, key.id);
    },
    async redactBatch(scope, conversationId, entries) {
      if (!sealWrites) return inner.redactBatch(scope, conversationId, entries);
      const key = await keys.current(scope.tenantId);
      await inner.redactBatch(
        scope,
        conversationId,
        entries.map((e) => ({ seq: e.seq, body: seal(key, e.body, chatEventAad(scope.tenantId, conversationId, e.seq)) })),
      );
      await confirmKey(scope.tenantId, key.id);
    },
    // The stored bodies as they are: for the re-encryption job, which opens and seals them itself.
    scanTenant: (scope, after, limit) => inner.scanTenant(scope, after, limit),
    rewriteBody: (scope, conversationId, seq, body, expectRedacted) => inner.rewriteBody(scope, conversationId, seq, body, expectRedacted),
    unpublished: (limit, committedBeforeMs) => inner.unpublished(limit, committedBeforeMs),
    markPublished: (keys_) => inner.markPublished(keys_),
    close: () => inner.close(),
  };
}
