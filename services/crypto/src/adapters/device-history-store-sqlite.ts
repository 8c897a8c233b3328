import type Database from "better-sqlite3";
import type { DeviceHistoryStore, HistoryEntry, StoredSigningKey } from "../ports/device-history-store.js";
import { checkCount, checkEntry, checkId, checkLimit, tenantOf } from "./checks.js";

interface Row {
  seq: number;
  change: Buffer;
  signature: Buffer;
  key_id: string;
}

const toEntry = (r: Row): HistoryEntry => ({ seq: r.seq, change: new Uint8Array(r.change), signature: new Uint8Array(r.signature), keyId: r.key_id });

/**
 * The embedded DeviceHistoryStore: `device_history` and `signing_keys` in crypto's SQLite file.
 * An append reads the last entry and inserts the next in one IMMEDIATE transaction. Single
 * machine only.
 */
export function createSqliteDeviceHistoryStore(opts: { db: Database.Database }): DeviceHistoryStore {
  const { db } = opts;
  const last = db.prepare<[string, string], Row>("SELECT seq, change, signature, key_id FROM device_history WHERE tenant_id = ? AND user_id = ? ORDER BY seq DESC LIMIT 1");
  const insert = db.prepare("INSERT INTO device_history (tenant_id, user_id, seq, change, signature, key_id) VALUES (?, ?, ?, ?, ?, ?)");
  const page = db.prepare<[string, string, number, number], Row>("SELECT seq, change, signature, key_id FROM device_history WHERE tenant_id = ? AND user_id = ? AND seq > ? ORDER BY seq LIMIT ?");
  const append = db.transaction((tenantId: string, userId: string, build: (seq: number, previous: HistoryEntry | undefined) => HistoryEntry) => {
    const prev = last.get(tenantId, userId);
    const seq = (prev?.seq ?? 0) + 1;
    const entry = checkEntry(build(seq, prev ? toEntry(prev) : undefined), seq);
    insert.run(tenantId, userId, seq, Buffer.from(entry.change), Buffer.from(entry.signature), entry.keyId);
    return entry;
  });
  const insertKey = db.prepare("INSERT INTO signing_keys (name, key_id, private_der, public_key) VALUES ('directory', ?, ?, ?) ON CONFLICT DO NOTHING");
  const getKey = db.prepare<[], { key_id: string; private_der: Buffer; public_key: Buffer }>("SELECT key_id, private_der, public_key FROM signing_keys WHERE name = 'directory'");

  return {
    async append(scope, userId, build) {
      return append.immediate(tenantOf(scope), checkId("userId", userId), build);
    },

    async list(scope, userId, afterSeq, limit) {
      return page.all(tenantOf(scope), checkId("userId", userId), checkCount("afterSeq", afterSeq), checkLimit(limit)).map(toEntry);
    },

    async signingKey(candidate: StoredSigningKey) {
      insertKey.run(checkId("keyId", candidate.keyId), Buffer.from(candidate.privateKeyDer), Buffer.from(candidate.publicKey));
      const row = getKey.get()!;
      return { keyId: row.key_id, privateKeyDer: new Uint8Array(row.private_der), publicKey: new Uint8Array(row.public_key) };
    },

    async close() {},
  };
}
