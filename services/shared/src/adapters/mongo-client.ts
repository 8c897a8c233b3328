import { Binary, MongoClient, type Collection, type CollectionOptions, type Document } from "mongodb";

/*
 * The only file that imports the mongodb driver at runtime. The Mongo adapters see the narrow
 * `MongoDb` below (and import driver *types* only), so a fake or another driver version plugs in
 * here.
 */

/** The collection operations the Mongo adapters use, and nothing else. */
export type MongoCollection<T extends Document = Document> = Pick<
  Collection<T>,
  "insertOne" | "findOne" | "find" | "updateOne" | "updateMany" | "createIndex" | "indexes"
>;

/** Defaults for every operation on a collection handle. */
export type MongoCollectionOptions = Pick<CollectionOptions, "readConcern" | "writeConcern">;

/** A database as the adapters see it. The driver's `Db` satisfies it. */
export interface MongoDb {
  collection<T extends Document = Document>(name: string, options?: MongoCollectionOptions): MongoCollection<T>;
}

/** A connected client and one of its databases. */
export interface MongoConnection {
  /** The driver client, for the composition root and tests (e.g. dropping a test database). */
  readonly client: MongoClient;
  readonly db: MongoDb;
  /** Closes the client (all its pooled connections). Idempotent. */
  close(): Promise<void>;
}

export interface ConnectMongoOptions {
  /** Shown by the server in its connection list (e.g. `chat-1`). */
  appName?: string;
}

/**
 * Connects to a MongoDB-protocol server and checks it answers, so a wrong address fails at
 * startup rather than on the first request. Works with a MongoDB replica set (cluster mode) and
 * with FerretDB (tests): the driver only uses sessions and retryable writes when the server is a
 * replica set, which FerretDB is not.
 */
export async function connectMongo(url: string, dbName: string, opts: ConnectMongoOptions = {}): Promise<MongoConnection> {
  const client = new MongoClient(url, { appName: opts.appName ?? "caas" });
  await client.connect();
  let closing: Promise<void> | undefined;
  return {
    client,
    db: client.db(dbName),
    close: () => (closing ??= client.close()),
  };
}

/**
 * True for a duplicate-key error (code 11000) of any unique index, `_id` included. Which index
 * it was is deliberately not reported: FerretDB does not name it (no `keyPattern`/`keyValue`).
 */
export function isMongoDuplicateKeyError(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === 11000;
}

/**
 * The bytes of a BSON binary field as read back by the driver (a `Binary`, or a Buffer when
 * `promoteBuffers` is set). Written fields need no conversion: the driver stores a Uint8Array as
 * BSON binary subtype 0.
 */
export function bytesFromBson(value: unknown): Uint8Array {
  if (value instanceof Binary) value = value.value();
  if (!(value instanceof Uint8Array)) throw new TypeError("expected a BSON binary field");
  // A plain view (not a Buffer subclass), so callers see the same type from every adapter.
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}
