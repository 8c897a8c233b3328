import { isMongoDuplicateKeyError, type MongoDb } from "@caas/shared/mongo";
import { mongoMigrationTarget } from "@caas/shared/mongo/migrations";
import { runMigrations, type Migration, type MigrationResult } from "@caas/shared/migrations";
import { chatCollections, MAJORITY, type ChatMongoOptions } from "../adapters/chat-mongo.js";
import { checkId, checkLimit, checkSeq, tenantOf } from "../adapters/checks.js";
import type { ConversationRef, ProjectionStateStore } from "./projection-state-store.js";

/** Collections of the projector, next to chat's (same prefix). */
export function projectionCollections(prefix = "chat_") {
  return { positions: `${prefix}projection_positions`, state: `${prefix}projection_state`, migrations: `${prefix}projection_migrations` };
}

/** Positions and the version are read by `_id` only, so the first step has no index to build. */
const MIGRATIONS: Migration<MongoDb>[] = [{ version: 1, name: "projection positions and version", up: async () => undefined }];

interface PositionDoc {
  /** `<tenant>|<conversation>`. */
  _id: string;
  seq: number;
}

interface StateDoc {
  _id: string;
  value: number;
}

/**
 * The cluster-mode ProjectionStateStore. A position moves forward by a conditional update
 * (`seq < new`), or an insert when there is none; the conditional update is not atomic on
 * FerretDB (ADR 0015), which only matters if two consumers applied one conversation at once —
 * the bus gives a conversation's key to one consumer of the group at a time, and applying is
 * idempotent anyway.
 */
export async function createMongoProjectionStateStore(opts: ChatMongoOptions & { onMigrated?: (r: MigrationResult) => void }): Promise<ProjectionStateStore> {
  const prefix = opts.collectionPrefix ?? "chat_";
  const names = projectionCollections(prefix);
  opts.onMigrated?.(await runMigrations(mongoMigrationTarget(opts.db, names.migrations), MIGRATIONS));
  const positions = opts.db.collection<PositionDoc>(names.positions, MAJORITY);
  const state = opts.db.collection<StateDoc>(names.state, MAJORITY);
  const conversations = opts.db.collection<{ _id: string; tenantId: string; id: string; deletedSeq: number }>(chatCollections(prefix).conversations, MAJORITY);
  const key = (tenantId: string, conversationId: string) => `${tenantId}|${conversationId}`;
  return {
    async position(scope, conversationId) {
      const doc = await positions.findOne({ _id: key(tenantOf(scope), checkId("conversationId", conversationId)) });
      return doc?.seq ?? 0;
    },
    async advance(scope, conversationId, seq) {
      const _id = key(tenantOf(scope), checkId("conversationId", conversationId));
      checkSeq("seq", seq);
      const moved = await positions.updateOne({ _id, seq: { $lt: seq } }, { $set: { seq } });
      if (moved.matchedCount > 0) return;
      try {
        await positions.insertOne({ _id, seq });
      } catch (err) {
        // It exists with this seq or a higher one.
        if (!isMongoDuplicateKeyError(err)) throw err;
      }
    },
    async moveExisting(scope, conversationId, seq) {
      const _id = key(tenantOf(scope), checkId("conversationId", conversationId));
      checkSeq("seq", seq);
      // No upsert: a missing row stays missing. Not moved: it is gone, or already at seq or past it (a second read, rare).
      if ((await positions.updateOne({ _id, seq: { $lt: seq } }, { $set: { seq } })).matchedCount > 0) return true;
      return (await positions.findOne({ _id }, { projection: { _id: 1 } })) !== null;
    },
    async reset(scope, conversationId) {
      await positions.deleteMany({ _id: key(tenantOf(scope), checkId("conversationId", conversationId)) });
    },
    async version() {
      return (await state.findOne({ _id: "version" }))?.value ?? 0;
    },
    async setVersion(v) {
      checkSeq("version", v);
      const done = await state.updateOne({ _id: "version" }, { $set: { value: v } });
      if (done.matchedCount > 0) return;
      try {
        await state.insertOne({ _id: "version", value: v });
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
        await state.updateOne({ _id: "version" }, { $set: { value: v } });
      }
    },
    async conversations(after: ConversationRef | undefined, limit) {
      const filter = after ? { _id: { $gt: key(after.tenantId, after.conversationId) }, deletedSeq: 0 } : { deletedSeq: 0 };
      const docs = await conversations.find(filter).sort({ _id: 1 }).limit(checkLimit(limit)).toArray();
      return docs.map((d) => ({ tenantId: d.tenantId, conversationId: d.id }));
    },
    async close() {},
  };
}
