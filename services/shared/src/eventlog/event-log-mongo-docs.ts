import type { Binary } from "mongodb";
import { bytesFromBson, isMongoDuplicateKeyError, type MongoDb } from "../adapters/mongo-client.js";
import type { Migration } from "../migrations.js";
import type { LogEvent } from "./event-log-store.js";

/* The MongoDB event log's documents, schema and error reading (event-log-store-mongo.ts). */

/** One event as stored. */
export interface EventDoc {
  /** `<tenant>|<conversation>|<seq, 12 digits>`: unique per (tenant, conversation, seq) by itself. */
  _id: string;
  tenantId: string;
  conversationId: string;
  seq: number;
  eventId: string;
  actorId: string;
  clientMessageId: string;
  payloadHash: string;
  countable: boolean;
  countableSeq: number;
  /** Written as a Uint8Array (stored as BSON binary), read back as a `Binary`. */
  body: Uint8Array | Binary;
  createTimeMs: number;
  redacted: boolean;
  published: boolean;
}

/** The event log's schema steps for a given collection; append only, each one idempotent. */
export function eventLogMongoMigrations(collection: string): Migration<MongoDb>[] {
  return [
    {
      version: 1,
      name: "event log indexes",
      async up(db) {
        const events = db.collection<EventDoc>(collection);
        // Also guaranteed by `_id`; this one serves head and range reads.
        await events.createIndex({ tenantId: 1, conversationId: 1, seq: 1 }, { unique: true, name: "tenant_conversation_seq" });
        // Events without a clientMessageId store "~" + eventId, so every document has a distinct
        // value and no partial index is needed (FerretDB has no partial or sparse indexes).
        await events.createIndex({ tenantId: 1, conversationId: 1, actorId: 1, clientMessageId: 1 }, { unique: true, name: "tenant_conversation_actor_client_message_id" });
        // The outbox, across tenants (the relay is a platform process), hence led by `published`.
        // On MongoDB `partialFilterExpression: { published: false }` would keep it as small as the
        // backlog; FerretDB cannot, so it indexes every event.
        await events.createIndex({ published: 1, tenantId: 1, conversationId: 1, seq: 1 }, { name: "outbox" });
      },
    },
  ];
}

/**
 * How many documents of an ordered `insertMany` went in before the one that failed on a unique
 * index; any other failure is rethrown (the inserted part is committed: a retry finds it).
 */
export function insertedBeforeConflict(err: unknown): number {
  const writeErrors = (err as { writeErrors?: unknown } | null)?.writeErrors;
  const first = (Array.isArray(writeErrors) ? writeErrors[0] : writeErrors) as { index?: unknown; code?: unknown } | undefined;
  if (!isMongoDuplicateKeyError(err) && first?.code !== 11000) throw err;
  if (typeof first?.index !== "number") throw err;
  return first.index;
}

/** Tenant ids contain no "|" and seq is the last, all-digit part, so the id is unambiguous. */
export function docId(tenantId: string, conversationId: string, seq: number): string {
  return `${tenantId}|${conversationId}|${String(seq).padStart(12, "0")}`;
}

export function toEvent(d: EventDoc): LogEvent {
  return {
    tenantId: d.tenantId,
    conversationId: d.conversationId,
    seq: d.seq,
    eventId: d.eventId,
    actorId: d.actorId,
    clientMessageId: d.clientMessageId,
    payloadHash: d.payloadHash,
    countable: d.countable,
    countableSeq: d.countableSeq,
    body: bytesFromBson(d.body),
    createTimeMs: d.createTimeMs,
    redacted: d.redacted,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
