import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { DeviceHistoryStore, HistoryEntry, StoredSigningKey } from "../ports/device-history-store.js";
import { checkCount, checkEntry, checkId, checkLimit, tenantOf } from "./checks.js";
import { bytesOf, cryptoCollections, MAJORITY, type CryptoMongoDb } from "./crypto-mongo.js";

interface EntryDoc {
  /** `<tenant>|<user>|<seq as 12 digits>`: the unique id makes each seq taken once. */
  _id: string;
  tenantId: string;
  userId: string;
  seq: number;
  change: Uint8Array;
  signature: Uint8Array;
  keyId: string;
}

interface SigningKeyDoc {
  _id: string;
  keyId: string;
  privateKeyDer: Uint8Array;
  publicKey: Uint8Array;
}

const entryOf = (d: EntryDoc): HistoryEntry => ({ seq: d.seq, change: bytesOf(d.change), signature: bytesOf(d.signature), keyId: d.keyId });

/**
 * The cluster-mode DeviceHistoryStore (`<prefix>history`, `<prefix>signing_keys`). An append
 * inserts the next seq under a unique id; an instance that loses the race to another rebuilds
 * its entry on the new last one and tries again, so the chain never forks.
 */
export function createMongoDeviceHistoryStore(opts: { db: CryptoMongoDb; collectionPrefix?: string }): DeviceHistoryStore {
  const c = cryptoCollections(opts.collectionPrefix);
  const history = opts.db.collection<EntryDoc>(c.history, MAJORITY);
  const signing = opts.db.collection<SigningKeyDoc>(c.signingKeys, MAJORITY);
  const prefix = (tenantId: string, userId: string) => `${tenantId}|${userId}|`;
  const idOf = (tenantId: string, userId: string, seq: number) => `${prefix(tenantId, userId)}${String(seq).padStart(12, "0")}`;

  return {
    async append(scope, userId, build) {
      const tenantId = tenantOf(scope);
      checkId("userId", userId);
      for (;;) {
        // Ids sort by seq within a user, so the last entry is the greatest id under the prefix.
        const last = await history
          .find({ _id: { $gte: prefix(tenantId, userId), $lt: `${prefix(tenantId, userId)}~` } })
          .sort({ _id: -1 })
          .limit(1)
          .toArray();
        const prev = last[0] ? entryOf(last[0]) : undefined;
        const seq = (prev?.seq ?? 0) + 1;
        const entry = checkEntry(build(seq, prev), seq);
        try {
          await history.insertOne({ _id: idOf(tenantId, userId, seq), tenantId, userId, seq, change: entry.change, signature: entry.signature, keyId: entry.keyId });
          return entry;
        } catch (err) {
          if (!isMongoDuplicateKeyError(err)) throw err;
        }
      }
    },

    async list(scope, userId, afterSeq, limit) {
      const tenantId = tenantOf(scope);
      checkId("userId", userId);
      const docs = await history
        .find({ _id: { $gt: idOf(tenantId, userId, checkCount("afterSeq", afterSeq)), $lt: `${prefix(tenantId, userId)}~` } })
        .sort({ _id: 1 })
        .limit(checkLimit(limit))
        .toArray();
      return docs.map(entryOf);
    },

    async signingKey(candidate: StoredSigningKey) {
      checkId("keyId", candidate.keyId);
      try {
        await signing.insertOne({ _id: "directory", keyId: candidate.keyId, privateKeyDer: candidate.privateKeyDer, publicKey: candidate.publicKey });
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
      }
      const doc = (await signing.findOne({ _id: "directory" }))!;
      return { keyId: doc.keyId, privateKeyDer: bytesOf(doc.privateKeyDer), publicKey: bytesOf(doc.publicKey) };
    },

    async close() {},
  };
}
