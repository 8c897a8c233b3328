import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { SessionListQuery, SessionRecord, SessionRevokeReason, SessionStore } from "../ports/session-store.js";
import { authCollections, MAJORITY, type MongoAdapterOptions } from "./auth-mongo.js";
import { checkId, checkLimit, checkRefreshRecord, checkRevokeReason, checkSessionRecord, checkTime, tenantOf } from "./checks.js";

/** Stored as the revoke time of a session without one, so one equality filter finds the active ones. */
const NEVER = Number.MAX_SAFE_INTEGER;

interface SessionDoc {
  /** `<tenant>|<session>`. */
  _id: string;
  tenantId: string;
  id: string;
  userId: string;
  deviceId: string;
  deviceName: string;
  scopes: string[];
  mfaSatisfied: boolean;
  createTimeMs: number;
  lastSeenTimeMs: number;
  expireTimeMs: number;
  /** NEVER while not revoked. */
  revokeTimeMs: number;
  revokeReason: SessionRevokeReason | "";
}

interface RefreshDoc {
  /** `<tenant>|<hash>`. */
  _id: string;
  tenantId: string;
  sessionId: string;
  expireTimeMs: number;
}

/** Exists once its refresh token was used. */
interface RefreshUseDoc {
  /** The token's `_id`. */
  _id: string;
  usedTimeMs: number;
}

/**
 * The cluster-mode SessionStore: one document per session (`_id` led by the tenant id, an index
 * on (tenantId, userId, lastSeenTimeMs, id) for the user's list) and one per refresh token
 * (`_id` = tenant|hash). A token is used by inserting a use document with the token's `_id`:
 * the unique `_id` makes exactly one of concurrent users win, on MongoDB and on FerretDB alike
 * (whose conditional updates are not atomic between clients, and which has no transactions). The
 * successor token and the session's new times are written after it, so a crash in between loses
 * only the new token (the client signs in again).
 */
export function createMongoSessionStore(opts: MongoAdapterOptions): SessionStore {
  const names = authCollections(opts.collectionPrefix);
  const sessions = opts.db.collection<SessionDoc>(names.sessions, MAJORITY);
  const tokens = opts.db.collection<RefreshDoc>(names.refreshTokens, MAJORITY);
  const uses = opts.db.collection<RefreshUseDoc>(names.refreshTokenUses, MAJORITY);
  const key = (tenantId: string, id: string) => `${tenantId}|${id}`;

  const getDoc = (tenantId: string, id: string) => sessions.findOne({ _id: key(tenantId, id) });

  return {
    async create(scope, s, refresh) {
      const tenantId = tenantOf(scope);
      checkSessionRecord(tenantId, s);
      checkRefreshRecord(refresh);
      await sessions.insertOne({
        _id: key(tenantId, s.id),
        tenantId,
        id: s.id,
        userId: s.userId,
        deviceId: s.deviceId,
        deviceName: s.deviceName,
        scopes: [...s.scopes],
        mfaSatisfied: s.mfaSatisfied,
        createTimeMs: s.createTimeMs,
        lastSeenTimeMs: s.lastSeenTimeMs,
        expireTimeMs: s.expireTimeMs,
        revokeTimeMs: NEVER,
        revokeReason: "",
      });
      await tokens.insertOne({ _id: key(tenantId, refresh.hash), tenantId, sessionId: s.id, expireTimeMs: refresh.expireTimeMs });
    },

    async get(scope, id) {
      const doc = await getDoc(tenantOf(scope), checkId("id", id, 64));
      return doc ? toRecord(doc) : undefined;
    },

    async findByRefreshHash(scope, hash, nowMs) {
      const tenantId = tenantOf(scope);
      const token = await tokens.findOne({ _id: key(tenantId, checkId("hash", hash, 256)) });
      if (!token || token.expireTimeMs <= checkTime("nowMs", nowMs)) return undefined;
      const doc = await getDoc(tenantId, token.sessionId);
      return doc ? toRecord(doc) : undefined;
    },

    async rotate(scope, hash, next, nowMs) {
      const tenantId = tenantOf(scope);
      checkId("hash", hash, 256);
      checkRefreshRecord(next);
      checkTime("nowMs", nowMs);
      const token = await tokens.findOne({ _id: key(tenantId, hash) });
      if (!token || token.expireTimeMs <= nowMs) return { kind: "unknown" };
      try {
        await uses.insertOne({ _id: token._id, usedTimeMs: nowMs });
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
        const doc = await getDoc(tenantId, token.sessionId);
        return doc ? { kind: "reused", session: toRecord(doc) } : { kind: "unknown" };
      }
      await tokens.insertOne({ _id: key(tenantId, next.hash), tenantId, sessionId: token.sessionId, expireTimeMs: next.expireTimeMs });
      const doc = await sessions.findOneAndUpdate({ _id: key(tenantId, token.sessionId) }, { $set: { lastSeenTimeMs: nowMs, expireTimeMs: next.expireTimeMs } }, { returnDocument: "after" });
      return doc ? { kind: "rotated", session: toRecord(doc) } : { kind: "unknown" };
    },

    async revoke(scope, id, nowMs, reason) {
      const tenantId = tenantOf(scope);
      const _id = key(tenantId, checkId("id", id, 64));
      await sessions.updateOne({ _id, revokeTimeMs: NEVER }, { $set: { revokeTimeMs: checkTime("nowMs", nowMs), revokeReason: checkRevokeReason(reason) } });
      const doc = await sessions.findOne({ _id });
      return doc ? toRecord(doc) : undefined;
    },

    async listActive(scope, q: SessionListQuery) {
      const tenantId = tenantOf(scope);
      checkId("userId", q.userId);
      checkTime("nowMs", q.nowMs);
      const keyset = q.after ? { $or: [{ lastSeenTimeMs: { $lt: q.after.lastSeenTimeMs } }, { lastSeenTimeMs: q.after.lastSeenTimeMs, id: { $lt: q.after.id } }] } : {};
      const docs = await sessions
        .find({ tenantId, userId: q.userId, revokeTimeMs: NEVER, expireTimeMs: { $gt: q.nowMs }, ...keyset })
        .sort({ lastSeenTimeMs: -1, id: -1 })
        .limit(checkLimit(q.limit))
        .toArray();
      return docs.map(toRecord);
    },

    async close() {},
  };
}

function toRecord(d: SessionDoc): SessionRecord {
  return {
    tenantId: d.tenantId,
    id: d.id,
    userId: d.userId,
    deviceId: d.deviceId,
    deviceName: d.deviceName,
    scopes: [...d.scopes],
    mfaSatisfied: d.mfaSatisfied,
    createTimeMs: d.createTimeMs,
    lastSeenTimeMs: d.lastSeenTimeMs,
    expireTimeMs: d.expireTimeMs,
    ...(d.revokeTimeMs === NEVER ? {} : { revokeTimeMs: d.revokeTimeMs, revokeReason: d.revokeReason as SessionRevokeReason }),
  };
}
