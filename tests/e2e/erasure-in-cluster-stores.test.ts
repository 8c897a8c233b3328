import { randomBytes, randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { PrivacyJobState, PrivacyService } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import type { UploadForm } from "@caas/gen/caas/media/v1/media_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import { SearchService } from "@caas/gen/caas/search/v1/search_service_pb.js";
import { bearer, tenantWithUsers } from "../support/tenants.js";

const cluster = inject("cluster");

/** Polls `read` until `done` holds. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function postForm(form: UploadForm, bytes: Uint8Array): Promise<Response> {
  const body = new FormData();
  for (const f of form.fields) body.append(f.name, f.value);
  body.append(form.fileField, new Blob([bytes]), "upload.bin");
  return fetch(form.url, { method: form.method, body });
}

/** Every document of this run's MongoDB database (all collections) whose BSON bytes hold `word`, as "collection/_id". */
async function mongoDocsWith(dbName: string, word: string): Promise<string[]> {
  const { MongoClient, BSON } = await import("mongodb");
  const mongo = await MongoClient.connect(process.env.CAAS_MONGO_URL!);
  try {
    const db = mongo.db(dbName);
    const needle = Buffer.from(word);
    const hits: string[] = [];
    for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
      for await (const doc of db.collection(name).find({})) if (Buffer.from(BSON.serialize(doc)).includes(needle)) hits.push(`${name}/${String(doc._id)}`);
    }
    return hits;
  } finally {
    await mongo.close();
  }
}

/** Every document of this run's Elasticsearch indexes whose source holds `word` (after a refresh), as "index/_id". */
async function esDocsWith(indexPrefix: string, word: string): Promise<string[]> {
  const es = process.env.CAAS_ELASTICSEARCH_URL!.replace(/\/+$/, "");
  const pattern = `${indexPrefix}*`;
  await fetch(`${es}/${pattern}/_refresh`, { method: "POST" });
  const hits: string[] = [];
  let after: unknown[] | undefined;
  for (;;) {
    const body = { size: 1000, query: { match_all: {} }, sort: [{ _doc: "asc" }], ...(after ? { search_after: after } : {}) };
    const res = await fetch(`${es}/${pattern}/_search?allow_no_indices=true`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`Elasticsearch search: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as { hits: { hits: { _index: string; _id: string; _source: unknown; sort: unknown[] }[] } };
    for (const h of page.hits.hits) if (JSON.stringify(h._source).includes(word)) hits.push(`${h._index}/${h._id}`);
    if (page.hits.hits.length < 1000) return hits;
    after = page.hits.hits[page.hits.hits.length - 1]!.sort;
  }
}

/** Every object of every bucket of the S3 server whose bytes hold `word`, as "bucket/key". */
async function s3ObjectsWith(word: string): Promise<string[]> {
  const { Client } = await import("minio");
  const url = new URL(process.env.CAAS_S3_ENDPOINT!);
  const s3 = new Client({
    endPoint: url.hostname,
    port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
    useSSL: url.protocol === "https:",
    accessKey: process.env.CAAS_S3_ACCESS_KEY!,
    secretKey: process.env.CAAS_S3_SECRET_KEY!,
    region: process.env.CAAS_S3_REGION ?? "us-east-1",
    pathStyle: true,
  });
  const needle = Buffer.from(word);
  const hits: string[] = [];
  for (const bucket of await s3.listBuckets()) {
    for await (const obj of s3.listObjectsV2(bucket.name, "", true) as AsyncIterable<{ name?: string }>) {
      if (!obj.name) continue;
      const chunks: Buffer[] = [];
      for await (const chunk of await s3.getObject(bucket.name, obj.name)) chunks.push(chunk as Buffer);
      if (Buffer.concat(chunks).includes(needle)) hits.push(`${bucket.name}/${obj.name}`);
    }
  }
  return hits;
}

describe.skipIf(!cluster)("erasure leaves no copy in the cluster's stores (FerretDB, Elasticsearch, versitygw)", () => {
  it("after an erasure a word only the user wrote is in no MongoDB document, no Elasticsearch document and no S3 object", async () => {
    const c = cluster!;
    const marker = `quokka${randomUUID().replace(/-/g, "").slice(0, 12)}`;
    // A word in plain text in MongoDB (a conversation title) that is not the erased user's: the scan must find it before and after.
    const control = `wallaby${randomUUID().replace(/-/g, "").slice(0, 12)}`;
    const gateway = c.endpoints.gateway!;
    const acme = await tenantWithUsers(gateway, c.adminToken, ["alice", "bob"], "cluster-erasure");
    const apiKey = (await acme.admin.createApiKey({ tenantId: acme.tenantId, name: "privacy" })).secret;
    const as = (credential: string) => createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(credential)] });
    const alice = createClient(ChatService, as(acme.token("alice")));
    const bob = createClient(ChatService, as(acme.token("bob")));
    const search = createClient(SearchService, as(acme.token("bob")));
    const privacy = createClient(PrivacyService, as(apiKey));

    // Alice writes the marker in two conversations (once in an edit) and uploads a file holding it; bob answers without it.
    for (let i = 0; i < 2; i++) {
      const conversationId = (await bob.createConversation({ type: ConversationType.GROUP, memberIds: ["alice"], title: `${control} ${i}` })).conversation!.id;
      const sent = await alice.sendMessage({ conversationId, clientMessageId: `m${i}`, text: `first ${marker} note` });
      await alice.editMessage({ conversationId, messageId: sent.messageId, text: `edited ${marker} note` });
      await alice.sendMessage({ conversationId, clientMessageId: `n${i}`, text: `again ${marker}` });
      await bob.sendMessage({ conversationId, clientMessageId: `b${i}`, text: "bob writes something else" });
    }
    const media = createClient(MediaService, as(acme.token("alice")));
    const fileBytes = Buffer.concat([randomBytes(2000), Buffer.from(` ${marker} `), randomBytes(2000)]);
    const { media: pending, upload } = await media.createUpload({ name: "notes.bin", mimeType: "application/octet-stream", sizeBytes: BigInt(fileBytes.length) });
    expect((await postForm(upload!, fileBytes)).status).toBe(204);
    await media.completeUpload({ mediaId: pending!.id });
    await until(
      () => search.searchMessages({ query: marker }),
      (r) => r.hits.length >= 4,
      "the marker indexed",
    );
    // An export of alice: its archive holds her words in plain JSON (and her file) until it goes with her.
    const exportJob = await until(
      async () => (await privacy.getJob({ jobId: (await privacy.requestExport({ userId: "alice" })).job!.id })).job!,
      (j) => j.state !== PrivacyJobState.RUNNING,
      "the export",
    );
    expect(exportJob.state).toBe(PrivacyJobState.SUCCEEDED);

    // Before: the marker is in search's index and in S3 (the file and the export archive); message bodies in MongoDB are sealed (ADR 0120).
    const indexPrefix = `${c.runPrefix.toLowerCase()}-`;
    expect((await esDocsWith(indexPrefix, marker)).length).toBeGreaterThanOrEqual(4);
    expect((await s3ObjectsWith(marker)).filter((k) => k.includes(acme.tenantId)).length).toBeGreaterThanOrEqual(2);
    expect(await mongoDocsWith(c.runPrefix, marker)).toEqual([]);
    expect((await mongoDocsWith(c.runPrefix, control)).length).toBeGreaterThanOrEqual(2);

    const { job } = await privacy.requestErasure({ userId: "alice" });
    const done = await until(
      async () => (await privacy.getJob({ jobId: job!.id })).job!,
      (j) => j.state !== PrivacyJobState.RUNNING,
      "the erasure",
      120_000,
    );
    expect(done.state).toBe(PrivacyJobState.SUCCEEDED);
    expect(done.services.find((s) => s.service === "exports")!.items).toBe(1n);

    // After: nowhere (search's consumer may still be deleting what chat's deletes told it: polled).
    expect(
      await until(
        () => esDocsWith(indexPrefix, marker),
        (hits) => hits.length === 0,
        "no Elasticsearch document with the marker",
      ),
    ).toEqual([]);
    expect(await s3ObjectsWith(marker)).toEqual([]);
    expect(await mongoDocsWith(c.runPrefix, marker)).toEqual([]);
    expect((await mongoDocsWith(c.runPrefix, control)).length).toBeGreaterThanOrEqual(2);
  }, 240_000);
});
