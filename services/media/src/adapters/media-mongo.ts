import type { Collection, CollectionOptions, Document } from "mongodb";
import { mongoMigrationTarget } from "@caas/shared/mongo/migrations";
import { runMigrations, type Migration, type MigrationResult } from "@caas/shared/migrations";
import type { MongoCollection, MongoDb } from "@caas/shared/mongo";

/** The collection operations the media Mongo adapters use: the shared ones plus deleteOne (the sweeper removes abandoned uploads) and deleteMany (DetachMedia). */
export type MediaMongoCollection<T extends Document = Document> = MongoCollection<T> & Pick<Collection<T>, "deleteOne" | "deleteMany">;

/**
 * A database as the media adapters see it (the driver's `Db` satisfies it). Only driver types
 * are imported here; services/shared mongo-client owns the driver.
 */
export interface MediaMongoDb extends MongoDb {
  collection<T extends Document = Document>(name: string, options?: Pick<CollectionOptions, "readConcern" | "writeConcern">): MediaMongoCollection<T>;
}

/** Collection names, all starting with a prefix ("media_" in production; tests add their own). */
export function mediaCollections(prefix = "media_") {
  return {
    media: `${prefix}media`,
    links: `${prefix}links`,
    migrations: `${prefix}migrations`,
  };
}

/** Write concern of every media write (a replica set acknowledges on a majority). */
export const MAJORITY = { writeConcern: { w: "majority" as const } };

/**
 * The media MongoDB schema steps (indexes); append only, each idempotent (FerretDB has no
 * transactions). Document ids lead with the tenant id; secondary indexes lead with `tenantId`.
 */
export function mediaMongoMigrations(prefix = "media_"): Migration<MongoDb>[] {
  const c = mediaCollections(prefix);
  return [
    {
      version: 1,
      name: "media indexes",
      async up(db) {
        await db.collection(c.links).createIndex({ tenantId: 1, mediaId: 1, conversationId: 1 }, { name: "tenant_media_conversation" });
        await db.collection(c.links).createIndex({ tenantId: 1, conversationId: 1, mediaId: 1 }, { name: "tenant_conversation_media" });
      },
    },
    {
      version: 2,
      name: "write-once blob keys of READY media; the upload sweeper's open-upload index",
      async up(db) {
        // As in SQLite: READY records from version 1 keep their bytes at the upload key (closed
        // to the sweeper); the rest have an open upload key. The sweep index is the one not led
        // by tenantId: the sweeper alone reads across tenants, oldest first.
        const media = db.collection(c.media);
        const legacyReady = await media.find({ state: "ready", blobKey: { $exists: false } }, { projection: { id: 1 } }).toArray();
        for (const doc of legacyReady) {
          await media.updateOne({ _id: doc._id }, { $set: { blobKey: `media/${String(doc.id)}`, uploadOpen: false } }, MAJORITY);
        }
        await media.updateMany({ blobKey: { $exists: false } }, { $set: { blobKey: "" } }, MAJORITY);
        await media.updateMany({ uploadOpen: { $exists: false } }, { $set: { uploadOpen: true } }, MAJORITY);
        await media.createIndex({ uploadOpen: 1, createTimeMs: 1, tenantId: 1, id: 1 }, { name: "open_uploads" });
      },
    },
    {
      version: 3,
      name: "records by owner (data-subject exports and erasures)",
      async up(db) {
        await db.collection(c.media).createIndex({ tenantId: 1, ownerId: 1, id: 1 }, { name: "tenant_owner_id" });
      },
    },
  ];
}

/** Brings the media collections under `collectionPrefix` up to the newest migration. */
export async function migrateMediaMongo(opts: { db: MongoDb; collectionPrefix?: string; onMigrated?: (result: MigrationResult) => void }): Promise<MigrationResult> {
  const prefix = opts.collectionPrefix ?? "media_";
  const result = await runMigrations(mongoMigrationTarget(opts.db, mediaCollections(prefix).migrations), mediaMongoMigrations(prefix));
  opts.onMigrated?.(result);
  return result;
}
