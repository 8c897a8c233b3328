import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { connectMongo, type MongoConnection } from "../adapters/mongo-client.js";

/** Two handles on one fresh backend namespace, like two processes of a service sharing a database. */
export interface TwoInstances<S> {
  a: S;
  b: S;
  close(): Promise<void>;
}

export type OpenTwoInstances<S> = () => Promise<TwoInstances<S>>;

/** Each call: a fresh SQLite file under `dir`, opened twice (WAL lets both connections write). */
export function twoSqliteInstances<S>(opts: {
  dir: string;
  /** File name prefix, e.g. the service name. */
  name: string;
  open(path: string): Promise<Database.Database>;
  make(db: Database.Database): S;
}): OpenTwoInstances<S> {
  return async () => {
    const path = join(opts.dir, `${opts.name}-${randomUUID()}.db`);
    const first = await opts.open(path);
    const second = await opts.open(path);
    return {
      a: opts.make(first),
      b: opts.make(second),
      close: async () => {
        first.close();
        second.close();
      },
    };
  };
}

/** Each call: a fresh collection prefix in `dbName`, migrated once, with two MongoClients. */
export function twoMongoInstances<Db, S>(opts: {
  url: string;
  dbName: string;
  /** Client application name prefix, e.g. the service name. */
  name: string;
  migrate(db: Db, collectionPrefix: string): Promise<unknown>;
  make(db: Db, collectionPrefix: string): S;
}): OpenTwoInstances<S> {
  return async () => {
    const prefix = `t${randomUUID().replace(/-/g, "").slice(0, 12)}_`;
    const conns: MongoConnection[] = [];
    try {
      for (const app of [`${opts.name}-a`, `${opts.name}-b`]) conns.push(await connectMongo(opts.url, opts.dbName, { appName: app }));
      const dbs = conns.map((c) => c.client.db(opts.dbName) as unknown as Db);
      await opts.migrate(dbs[0]!, prefix);
      return {
        a: opts.make(dbs[0]!, prefix),
        b: opts.make(dbs[1]!, prefix),
        close: async () => {
          for (const c of conns) await c.close();
        },
      };
    } catch (err) {
      for (const c of conns) await c.close();
      throw err;
    }
  };
}
