import {
  AbstractCursor,
  Binary,
  Collection,
  MongoClient,
  MongoClientClosedError,
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  type CollectionOptions,
  type Db,
  type Document,
} from "mongodb";
import { UnavailableError } from "../errors.js";

/*
 * The only file that imports the mongodb driver at runtime. The Mongo adapters see the narrow
 * `MongoDb` below (and import driver *types* only), so a fake or another driver version plugs in
 * here.
 */

/** The collection operations the Mongo adapters use, and nothing else. */
export type MongoCollection<T extends Document = Document> = Pick<Collection<T>, "insertOne" | "insertMany" | "findOne" | "find" | "updateOne" | "updateMany" | "createIndex" | "indexes">;

/** Defaults for every operation on a collection handle. */
export type MongoCollectionOptions = Pick<CollectionOptions, "readConcern" | "writeConcern">;

/** A database as the adapters see it. The driver's `Db` satisfies it. */
export interface MongoDb {
  collection<T extends Document = Document>(name: string, options?: MongoCollectionOptions): MongoCollection<T>;
}

/** A connected client and one of its databases. */
export interface MongoConnection {
  /**
   * The driver client, for tests (e.g. dropping a test database). Adapters use `db` or
   * `database()`: operations through the bare client are not settled by `close()`.
   */
  readonly client: MongoClient;
  /** The database named at connect, guarded like `database()`. */
  readonly db: MongoDb;
  /**
   * A database of this client whose every operation settles once `close()` starts: in flight
   * or started after, it rejects UNAVAILABLE (see `connectMongo`). The driver's `Db` type, so
   * adapters narrow it to the interface they use.
   */
  database(name: string): Db;
  /** Fails every operation in flight (UNAVAILABLE), then closes the client (all its pooled connections). Idempotent. */
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
 *
 * Closing settles every operation. The driver (7.9) does not: `client.close()` destroys the
 * sockets of checked-out connections at once, and an operation that has checked out its
 * connection but not yet written its command (the write follows an `await` while the command
 * is serialized) then writes to the destroyed socket. Node reports nothing for that write
 * (no 'error' event on a destroyed stream, `write()` returns false) and the driver waits for a
 * 'drain' that never comes: the operation never settles, nor does the RPC that awaits it (ADR
 * 0026). So every operation through `db`/`database()` is tracked, and `close()` first rejects
 * those in flight with UnavailableError (the caller retries elsewhere; a write may or may not
 * have happened, exactly as for a lost connection), then closes the client. Operations started
 * afterwards reject UNAVAILABLE as well, as does any driver error raised while closing.
 *
 * Transient server and network errors (`isTransientMongoError`) reject UNAVAILABLE too, at any
 * time: they say "try again", not "this request is wrong", and a client must not read them as
 * INTERNAL. Every other error (a duplicate key included) reaches the adapter unchanged.
 */
export async function connectMongo(url: string, dbName: string, opts: ConnectMongoOptions = {}): Promise<MongoConnection> {
  const client = new MongoClient(url, { appName: opts.appName ?? "caas" });
  await client.connect();
  const guard = new OperationGuard();
  let closing: Promise<void> | undefined;
  const database = (name: string) => guard.db(client.db(name));
  return {
    client,
    db: database(dbName),
    database,
    close: () =>
      (closing ??= (async () => {
        guard.close();
        await client.close();
      })()),
  };
}

/**
 * Tracks the operations of one client so `close()` can settle them: each promise an operation
 * returns is wrapped, and its rejecter kept in a set until the operation settles (no listener
 * piles up on a long-lived promise). Cursors are wrapped too: their chained builders return the
 * wrapped cursor, their promises are tracked.
 */
class OperationGuard {
  private readonly inFlight = new Set<(err: Error) => void>();
  private closed = false;

  close(): void {
    this.closed = true;
    const err = closedError();
    for (const reject of this.inFlight) reject(err);
    this.inFlight.clear();
  }

  db(db: Db): Db {
    return this.wrap(db);
  }

  /** A view of `target` whose methods run on the target: promises tracked, collections and cursors wrapped, chaining kept. */
  private wrap<T extends object>(target: T): T {
    const view: T = new Proxy(target, {
      get: (obj, prop) => {
        const value: unknown = Reflect.get(obj, prop, obj);
        if (typeof value !== "function" || prop === "constructor") return value;
        return (...args: unknown[]) => {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(obj, args);
          if (result === obj) return view; // a cursor's builders (sort, limit, ...) return the cursor
          if (isThenable(result)) return this.track(result);
          return result instanceof Collection || result instanceof AbstractCursor ? this.wrap(result) : result;
        };
      },
    });
    return view;
  }

  private track<T>(operation: PromiseLike<T>): Promise<T> {
    if (this.closed) {
      // Observed, so a later rejection is not unhandled; its outcome no longer matters.
      operation.then(undefined, () => undefined);
      return Promise.reject(closedError());
    }
    return new Promise<T>((resolve, reject) => {
      this.inFlight.add(reject);
      operation.then(
        (value) => {
          this.inFlight.delete(reject);
          resolve(value);
        },
        (err: unknown) => {
          this.inFlight.delete(reject);
          reject(this.closed ? closedError(err) : isTransientMongoError(err) ? transientError(err) : err);
        },
      );
    });
  }
}

/** Server codes that mean "this server cannot serve now, another try may" (the driver's retryable-read/write codes). */
const TRANSIENT_CODES = new Set([6, 7, 89, 91, 134, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);
/** Driver errors (by name) of a pool that was cleared or closed, or a checkout that waited too long. */
const TRANSIENT_NAMES = new Set(["MongoPoolClosedError", "MongoPoolClearedError", "PoolClearedOnNetworkError", "MongoWaitQueueTimeoutError"]);

/**
 * True for an error that says the store could not serve the operation now, so the same request
 * may succeed later or elsewhere: network errors, no server to select, a closed client or pool,
 * the retryable server codes and labels, and FerretDB's SQLite backend giving up on its write
 * lock ("database is locked", SQLITE_BUSY: it waited past its busy timeout under write
 * contention and wrote nothing). A write that failed this way may or may not have been applied
 * only for network errors; callers retry with their idempotency key either way.
 */
export function isTransientMongoError(err: unknown): boolean {
  if (
    err instanceof MongoNetworkError ||
    err instanceof MongoServerSelectionError ||
    err instanceof MongoTopologyClosedError ||
    err instanceof MongoNotConnectedError ||
    err instanceof MongoClientClosedError
  ) {
    return true;
  }
  if (!(err instanceof MongoError)) return false;
  if (err.hasErrorLabel("RetryableWriteError") || err.hasErrorLabel("TransientTransactionError")) return true;
  if (typeof err.code === "number" && TRANSIENT_CODES.has(err.code)) return true;
  return TRANSIENT_NAMES.has(err.name) || /database is locked|SQLITE_BUSY/.test(err.message);
}

function transientError(cause: unknown): UnavailableError {
  const err = new UnavailableError("the store is busy or unreachable; retry");
  (err as Error & { cause?: unknown }).cause = cause;
  return err;
}

function closedError(cause?: unknown): UnavailableError {
  const err = new UnavailableError("the store connection is closing; retry");
  if (cause !== undefined) (err as Error & { cause?: unknown }).cause = cause;
  return err;
}

function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return isObject(value) && typeof (value as { then?: unknown }).then === "function";
}

export { isMongoDuplicateKeyError, upsertRetryingOnce } from "./mongo-errors.js";

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
