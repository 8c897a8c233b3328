import { AlreadyExistsError } from "@caas/shared/errors";
import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { MediaRecord, MediaStore } from "../ports/media-store.js";
import { checkBlobKeyField, checkCount, checkId, checkIdList, checkLimit, checkNewRecord, checkSweepLimit, tenantOf } from "./checks.js";
import { MAJORITY, mediaCollections, type MediaMongoDb } from "./media-mongo.js";

interface MediaDoc extends MediaRecord {
  /** `<tenant>|<id>` (neither contains "|"). */
  _id: string;
  tenantId: string;
  /** False once the sweeper deleted what the upload key held after the form expired. */
  uploadOpen: boolean;
}

interface LinkDoc {
  /** `<tenant>|<media>|<conversation>`. */
  _id: string;
  tenantId: string;
  mediaId: string;
  conversationId: string;
  linkTimeMs: number;
}

/**
 * The cluster-mode MediaStore: one document per media (`<prefix>media`) and per (media,
 * conversation) link (`<prefix>links`), ids leading with the tenant. Every write is a single
 * conditional document write, so any number of media instances may share the database.
 */
export function createMongoMediaStore(opts: { db: MediaMongoDb; collectionPrefix?: string }): MediaStore {
  const c = mediaCollections(opts.collectionPrefix);
  const media = opts.db.collection<MediaDoc>(c.media, MAJORITY);
  const links = opts.db.collection<LinkDoc>(c.links, MAJORITY);
  const key = (tenantId: string, id: string) => `${tenantId}|${id}`;
  const find = async (tenantId: string, id: string) => {
    const doc = await media.findOne({ _id: key(tenantId, id) });
    return doc ? toRecord(doc) : undefined;
  };

  return {
    async create(scope, record) {
      const tenantId = tenantOf(scope);
      checkNewRecord(record);
      try {
        await media.insertOne({ _id: key(tenantId, record.id), tenantId, ...record, uploadOpen: true });
      } catch (err) {
        if (isMongoDuplicateKeyError(err)) throw new AlreadyExistsError(`media ${record.id} already exists`);
        throw err;
      }
    },

    async get(scope, id) {
      return find(tenantOf(scope), checkId("id", id));
    },

    async getMany(scope, ids) {
      const tenantId = tenantOf(scope);
      const list = checkIdList("ids", ids);
      if (list.length === 0) return [];
      const docs = await media.find({ _id: { $in: list.map((id) => key(tenantId, id)) } }).toArray();
      return docs.map(toRecord);
    },

    async markReady(scope, id, r) {
      const tenantId = tenantOf(scope);
      checkId("id", id);
      await media.updateOne(
        { _id: key(tenantId, id), state: "pending", deleteTimeMs: 0 },
        {
          $set: {
            state: "ready",
            sizeBytes: checkCount("sizeBytes", r.sizeBytes),
            readyTimeMs: checkCount("readyTimeMs", r.readyTimeMs),
            blobKey: checkBlobKeyField(r.blobKey),
          },
        },
      );
      return find(tenantId, id);
    },

    async markDeleted(scope, id, deleteTimeMs) {
      const tenantId = tenantOf(scope);
      checkId("id", id);
      await media.updateOne({ _id: key(tenantId, id), deleteTimeMs: 0 }, { $set: { deleteTimeMs: checkCount("deleteTimeMs", deleteTimeMs) } });
      return (await media.findOne({ _id: key(tenantId, id) }, { projection: { _id: 1 } })) !== null;
    },

    async link(scope, conversationId, mediaIds, linkTimeMs) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      const ids = checkIdList("mediaIds", mediaIds);
      checkCount("linkTimeMs", linkTimeMs);
      for (const mediaId of ids) {
        try {
          await links.insertOne({ _id: `${tenantId}|${mediaId}|${conversationId}`, tenantId, mediaId, conversationId, linkTimeMs });
        } catch (err) {
          if (!isMongoDuplicateKeyError(err)) throw err;
        }
      }
    },

    async unlink(scope, conversationId, mediaIds) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      const ids = checkIdList("mediaIds", mediaIds);
      if (ids.length === 0) return;
      await links.deleteMany({ _id: { $in: ids.map((m) => `${tenantId}|${m}|${conversationId}`) } });
    },

    async linkedTo(scope, conversationId, mediaIds) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      const ids = checkIdList("mediaIds", mediaIds);
      if (ids.length === 0) return new Set();
      const docs = await links.find({ _id: { $in: ids.map((m) => `${tenantId}|${m}|${conversationId}`) } }, { projection: { mediaId: 1 } }).toArray();
      return new Set(docs.map((d) => d.mediaId));
    },

    async linkedConversations(scope, mediaId, query) {
      const tenantId = tenantOf(scope);
      checkId("mediaId", mediaId);
      const limit = checkLimit(query.limit);
      const filter = query.after === undefined ? { tenantId, mediaId } : { tenantId, mediaId, conversationId: { $gt: checkId("after", query.after) } };
      const docs = await links
        .find(filter, { projection: { conversationId: 1 } })
        .sort({ tenantId: 1, mediaId: 1, conversationId: 1 })
        .limit(limit)
        .toArray();
      return docs.map((d) => d.conversationId);
    },

    async ofTenant(scope, limit) {
      const docs = await media
        .find({ tenantId: tenantOf(scope) })
        .limit(checkLimit(limit))
        .toArray();
      return docs.map(toRecord);
    },

    async ofOwner(scope, ownerId, query) {
      const tenantId = tenantOf(scope);
      checkId("ownerId", ownerId);
      const limit = checkLimit(query.limit);
      const filter = query.after === undefined ? { tenantId, ownerId } : { tenantId, ownerId, id: { $gt: checkId("after", query.after) } };
      const docs = await media.find(filter).sort({ tenantId: 1, ownerId: 1, id: 1 }).limit(limit).toArray();
      return docs.map(toRecord);
    },

    async remove(scope, id) {
      const tenantId = tenantOf(scope);
      checkId("id", id);
      // Links first: a crash in between leaves the record, and the next call removes it.
      await links.deleteMany({ tenantId, mediaId: id });
      return (await media.deleteOne({ _id: key(tenantId, id) })).deletedCount === 1;
    },

    async uploadsToSweep(query) {
      const createdBefore = checkCount("createdBefore", query.createdBefore);
      const docs = await media
        .find({ uploadOpen: true, createTimeMs: { $lt: createdBefore } })
        .sort({ uploadOpen: 1, createTimeMs: 1, tenantId: 1, id: 1 })
        .limit(checkSweepLimit(query.limit))
        .toArray();
      return docs.map((d) => ({ tenantId: d.tenantId, record: toRecord(d) }));
    },

    async removeAbandoned(scope, id, createdBefore) {
      const tenantId = tenantOf(scope);
      checkId("id", id);
      const res = await media.deleteOne({ _id: key(tenantId, id), state: "pending", deleteTimeMs: 0, createTimeMs: { $lt: checkCount("createdBefore", createdBefore) } });
      return res.deletedCount === 1;
    },

    async closeUpload(scope, id) {
      const tenantId = tenantOf(scope);
      await media.updateOne({ _id: key(tenantId, checkId("id", id)), uploadOpen: true }, { $set: { uploadOpen: false } });
    },

    async close() {},
  };
}

function toRecord(d: MediaDoc): MediaRecord {
  return {
    id: d.id,
    ownerId: d.ownerId,
    name: d.name,
    mimeType: d.mimeType,
    maxBytes: d.maxBytes,
    sizeBytes: d.sizeBytes,
    state: d.state,
    createTimeMs: d.createTimeMs,
    readyTimeMs: d.readyTimeMs,
    deleteTimeMs: d.deleteTimeMs,
    blobKey: d.blobKey,
  };
}
