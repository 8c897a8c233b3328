import { bytesFromBson, isMongoDuplicateKeyError, upsertRetryingOnce } from "@caas/shared/mongo";
import type { AuditSubjectRecord, AuditSubjectStore } from "../ports/audit-subjects.js";
import { MAJORITY, complianceCollections, type ComplianceMongoDb } from "./audit-mongo.js";
import { tenantOf } from "./audit-rows.js";

interface SubjectDoc extends AuditSubjectRecord {
  /** `<tenant>|<subject>`: one link per user; the user id is in no index. */
  _id: string;
  tenantId: string;
}
interface MarkerDoc {
  /** `<tenant>|<subject>`. */
  _id: string;
  tenantId: string;
  eraseTimeMs: number;
}

/**
 * Pseudonym links and erasure markers in MongoDB (cluster mode). A deleted link's document is
 * gone from the collection at once; the storage engine's pages (FerretDB: PostgreSQL) keep its
 * bytes until they are reused or vacuumed (see ADR 0143).
 */
export function createMongoAuditSubjects(opts: { db: ComplianceMongoDb; collectionPrefix?: string | undefined }): AuditSubjectStore {
  const c = complianceCollections(opts.collectionPrefix);
  const subjects = opts.db.collection<SubjectDoc>(c.subjects, MAJORITY);
  const markers = opts.db.collection<MarkerDoc>(c.erasedSubjects, MAJORITY);
  const toRecord = (d: SubjectDoc): AuditSubjectRecord => ({ userId: d.userId, pseudonym: d.pseudonym, key: bytesFromBson(d.key), createTimeMs: d.createTimeMs });
  const bySubject = async (tenantId: string, subject: string) => {
    const doc = await subjects.findOne({ _id: `${tenantId}|${subject}` });
    return doc ? toRecord(doc) : undefined;
  };

  return {
    async linkSubject(scope, subject, candidate) {
      const tenantId = tenantOf(scope);
      try {
        await subjects.insertOne({ _id: `${tenantId}|${subject}`, tenantId, ...candidate });
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
      }
      const stored = await bySubject(tenantId, subject);
      if (!stored) throw new Error("the audit pseudonym link was deleted while it was made; retry");
      return stored;
    },

    async subjectOf(scope, subject) {
      return bySubject(tenantOf(scope), subject);
    },

    async usersOf(scope, pseudonyms) {
      const docs = await subjects.find({ tenantId: tenantOf(scope), pseudonym: { $in: [...new Set(pseudonyms)] } }, { projection: { pseudonym: 1, userId: 1 } }).toArray();
      return new Map(docs.map((d) => [d.pseudonym, d.userId]));
    },

    async forgetSubject(scope, subject, eraseTimeMs) {
      const tenantId = tenantOf(scope);
      const r = await subjects.deleteOne({ _id: `${tenantId}|${subject}` });
      await upsertRetryingOnce(() => markers.updateOne({ _id: `${tenantId}|${subject}` }, { $max: { eraseTimeMs }, $setOnInsert: { tenantId } }, { upsert: true }));
      return r.deletedCount > 0;
    },

    async erasedAt(scope, subject) {
      const doc = await markers.findOne({ _id: `${tenantOf(scope)}|${subject}` });
      return doc?.eraseTimeMs;
    },
  };
}
