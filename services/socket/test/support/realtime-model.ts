import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { vi } from "vitest";
import { EventSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ResumeSchema, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { createLogger } from "@caas/shared/logger";
import { FakeClock } from "@caas/shared/clock";
import type { JwtVerifier } from "@caas/shared/identity/jwt-verifier";
import type { ChatClient } from "../../src/chat-calls.js";
import { HoleFiller } from "../../src/hole-filler.js";
import { Hub } from "../../src/hub.js";
import { SeqOrder } from "../../src/seq-order.js";
import type { FrameSink, Session, SessionLimits } from "../../src/session.js";
import { SessionRegistry } from "../../src/sessions.js";

/**
 * A model of the realtime path around one socket instance, for tests of what cursors cover: a
 * conversation log with commit times and chat's GetChanges selection (commit time after the
 * cursor's time minus the overlap, ADR 0014), a bus whose deliveries the test schedules (late,
 * reordered, repeated), and the real Hub, SeqOrder, sessions and checkpoint logic. The instance can
 * restart: its consumer then starts from the newest record once positioned, like a new group.
 * Timers are vitest's fake timers; time moves only through `advance`.
 */

/** chat's changes overlap (services/chat limits.changesOverlapMs). */
export const OVERLAP_MS = 10_000;
const TENANT = "t1";

interface Committed {
  conversationId: string;
  seq: bigint;
  timeMs: number;
}

/** A cursor of the model chat: the time its pass began (empty: from scratch). */
const cursorTime = (cursor: string): number | undefined => (cursor === "" ? undefined : (JSON.parse(cursor) as { s: number }).s);

const eventOf = (c: { conversationId: string; seq: bigint }): Event =>
  create(EventSchema, { conversationId: c.conversationId, seq: c.seq, payload: { case: "messageCreated", value: { message: { id: `${c.conversationId}-${c.seq}` } } } });

/** The store of record: every conversation's log, and the chat RPCs the socket and clients use. */
export class ModelLog {
  readonly logs = new Map<string, Committed[]>();
  /** GetChanges calls that fail UNAVAILABLE before it answers again (a chat instance restarting). */
  failChanges = 0;

  constructor(
    readonly clock: FakeClock,
    conversations: string[],
  ) {
    for (const id of conversations) this.logs.set(id, []);
  }

  commit(conversationId: string): Committed {
    const log = this.logs.get(conversationId)!;
    const c = { conversationId, seq: BigInt(log.length + 1), timeMs: this.clock.nowMs() };
    log.push(c);
    return c;
  }

  all(): Committed[] {
    return [...this.logs.values()].flat();
  }

  /** Events a resume from `cursor` will never return again (committed at or before its time minus the overlap). */
  hiddenBy(cursor: string): Committed[] {
    const s = cursorTime(cursor);
    return s === undefined ? [] : this.all().filter((c) => c.timeMs <= s - OVERLAP_MS);
  }

  sync(conversationId: string, afterSeq: bigint): Event[] {
    return this.logs
      .get(conversationId)!
      .filter((c) => c.seq > afterSeq)
      .map(eventOf);
  }

  /** The ChatClient the socket instance calls (ListConversations, GetChanges). */
  client(): ChatClient {
    return {
      listConversations: async () => ({
        conversations: [...this.logs].map(([id, log]) => ({ conversation: { id, type: 2, memberCount: 2, lastSeq: BigInt(log.length) }, membership: { userId: "u" } })),
        nextPageToken: "",
      }),
      getChanges: async (req: { cursor: string; perConversationLimit: number }) => {
        if (this.failChanges > 0) {
          this.failChanges--;
          throw new ConnectError("chat is restarting", Code.Unavailable);
        }
        const s = cursorTime(req.cursor);
        const limit = req.perConversationLimit === 0 ? 50 : req.perConversationLimit;
        const conversations = [];
        for (const [id, log] of this.logs) {
          const fresh = s === undefined ? log : log.filter((c) => c.timeMs > s - OVERLAP_MS);
          if (fresh.length === 0) continue;
          conversations.push({ conversationId: id, events: fresh.slice(-limit).map(eventOf), limited: fresh.length > limit });
        }
        return { conversations, nextCursor: JSON.stringify({ s: this.clock.nowMs() }), hasMore: false };
      },
      sync: async (req: { conversationId: string; afterSeq: bigint }) => ({ events: this.sync(req.conversationId, req.afterSeq), hasMore: false }),
    } as unknown as ChatClient;
  }
}

const verifier: JwtVerifier = {
  async verify(token) {
    const iat = Math.floor(Date.now() / 1000) - 1;
    const claims = { iss: "caas-auth", aud: "caas-api", sub: token, tenant: TENANT, sid: `s-${token}`, device: "d1", scopes: [], roles: [], jti: "j", iat, nbf: iat, exp: iat + 1_000_000 };
    return { kid: "k1", claims, acceptedUntilMs: claims.exp * 1000 };
  },
  verifyServiceToken: async () => ({ service: "x" }),
};

const limits: SessionLimits = { authTimeoutMs: 60_000, heartbeatMs: 3_600_000, maxQueuedFrames: 100_000, maxFrameBytes: 1 << 20, retryAfterMs: 1_000 };

/** One socket instance: its hub, seq ordering, sessions, and where its bus consumer stands. */
export class ModelInstance {
  readonly hub: Hub;
  readonly order: SeqOrder;
  readonly registry: SessionRegistry;
  /** Records delivered before this time are not seen (a new consumer group starts from the newest record once positioned). */
  positionedAtMs: number;

  /** `fillHoles`: the instance reads skipped seqs from the log (HoleFiller), as the service does. */
  constructor(log: ModelLog, positionedAtMs: number, opts: { fillHoles?: boolean; holdMs?: number } = {}) {
    const holdMs = opts.holdMs ?? 250;
    const logger = createLogger({ service: "socket-model", instance: "m", level: "silent" });
    const filler = opts.fillHoles ? new HoleFiller(log.client(), logger) : undefined;
    this.hub = new Hub(filler?.onHole);
    filler?.attach(this.hub);
    this.positionedAtMs = positionedAtMs;
    this.order = new SeqOrder((tenantId, event) => this.hub.dispatch(tenantId, event), { holdMs, maxTracked: 10_000 });
    this.registry = new SessionRegistry({ verifier, chat: log.client(), hub: this.hub, clock: log.clock, logger, limits });
  }

  /** A bus record reaches the instance's consumer at the current time. */
  consume(event: Event, nowMs: number): void {
    if (nowMs >= this.positionedAtMs) this.order.push(TENANT, event);
  }

  stop(): void {
    this.order.close();
  }
}

/** A cursor frame a client was handed, with what had reached that connection by then. */
export interface CursorRecord {
  cursor: string;
  kind: "resumeDone" | "checkpoint";
  /** The cursor this connection resumed from. */
  resumedFrom: string;
  /** Every (conversation, seq) the connection carried before the cursor frame (catch-up and live). */
  delivered: Set<string>;
}

const k = (conversationId: string, seq: bigint) => `${conversationId}#${seq}`;

/**
 * A client that follows the documented protocol: it keeps every event it is given (deduplicated
 * by conversation and seq), stores the newest ResumeDone or Checkpoint cursor, resumes with it
 * after every reconnect, and calls Sync when a pushed event skips seqs after the previous pushed
 * event of that conversation on the connection (or when a catch-up is `limited`).
 */
export class ModelClient {
  readonly have = new Set<string>();
  /** What reached the client on its connections (catch-up and pushed events), Sync left out. */
  readonly received = new Set<string>();
  cursor = "";
  readonly cursors: CursorRecord[] = [];
  /** The last resume was refused (FrameError): the client resumes again. */
  resumeRefused = false;
  session?: Session;
  private frames: ServerFrame[] = [];
  private read = 0;
  private resumedFrom = "";
  private delivered = new Set<string>();
  private lastPushed = new Map<string, bigint>();

  constructor(
    readonly user: string,
    private readonly log: ModelLog,
  ) {}

  /** Opens a connection to `instance`, authenticates and resumes from the stored cursor. */
  async connect(instance: ModelInstance): Promise<void> {
    this.frames = [];
    this.read = 0;
    this.delivered = new Set();
    this.lastPushed = new Map();
    this.resumedFrom = this.cursor;
    const sink: FrameSink = { write: (b) => this.frames.push(...b), congested: () => false, end: () => undefined };
    const session = instance.registry.open(sink, { clientHeartbeats: false, serverPongs: false });
    this.session = session;
    if (!(await session.authenticate(this.user, 1n))) throw new Error("model client could not authenticate");
    await this.resume();
  }

  /** Resumes on the open connection from the stored cursor (again after a failed resume). */
  async resume(): Promise<void> {
    this.resumedFrom = this.cursor;
    await this.session!.resume(2n, create(ResumeSchema, { cursor: this.cursor, perConversationLimit: 200 }));
    await vi.advanceTimersByTimeAsync(0); // the session's flush
    this.drain();
  }

  /** The connection went away (instance crash, network): nothing more arrives on it. */
  drop(): void {
    this.drain();
    this.session?.detach();
    this.session = undefined;
  }

  /** Reads the frames that arrived since the last call. */
  drain(): void {
    for (; this.read < this.frames.length; this.read++) {
      const f = this.frames[this.read]!.frame;
      if (f.case === "changes") {
        const c = f.value;
        for (const e of c.events) this.take(e.conversationId, e.seq);
        if (c.limited) this.fill(c.conversationId, 0n);
      } else if (f.case === "event") {
        const e = f.value;
        const prev = this.lastPushed.get(e.conversationId);
        if (prev !== undefined && e.seq > prev + 1n) this.fill(e.conversationId, prev);
        if (prev === undefined || e.seq > prev) this.lastPushed.set(e.conversationId, e.seq);
        this.take(e.conversationId, e.seq);
      } else if (f.case === "error" && this.frames[this.read]!.replyTo === 2n) {
        this.resumeRefused = true;
      } else if (f.case === "resumeDone" || f.case === "checkpoint") {
        if (f.case === "resumeDone") this.resumeRefused = false;
        this.cursor = f.value.cursor;
        this.cursors.push({ cursor: f.value.cursor, kind: f.case, resumedFrom: this.resumedFrom, delivered: new Set(this.delivered) });
      }
    }
  }

  private take(conversationId: string, seq: bigint): void {
    this.delivered.add(k(conversationId, seq));
    this.received.add(k(conversationId, seq));
    this.have.add(k(conversationId, seq));
  }

  /** Sync from `afterSeq` (ChatService.Sync): not a delivery on the connection. */
  private fill(conversationId: string, afterSeq: bigint): void {
    for (const e of this.log.sync(conversationId, afterSeq)) this.have.add(k(e.conversationId, e.seq));
  }

  /**
   * Cursors that cover an event which neither reached the connection nor was already covered by
   * the cursor it resumed from: a later resume from them would never return it.
   */
  overreaching(): Array<{ kind: string; missing: string[] }> {
    const out = [];
    for (const r of this.cursors) {
      const before = new Set(this.log.hiddenBy(r.resumedFrom).map((c) => k(c.conversationId, c.seq)));
      const missing = this.log
        .hiddenBy(r.cursor)
        .map((c) => k(c.conversationId, c.seq))
        .filter((id) => !r.delivered.has(id) && !before.has(id));
      if (missing.length > 0) out.push({ kind: r.kind, missing });
    }
    return out;
  }

  /** Events of the log this client does not have; `connectionsOnly`: counting only what its connections carried. */
  missing(connectionsOnly = false): string[] {
    const got = connectionsOnly ? this.received : this.have;
    return this.log
      .all()
      .map((c) => k(c.conversationId, c.seq))
      .filter((id) => !got.has(id));
  }
}

/** Moves the model clock and vitest's fake timers together (SeqOrder holds, session flushes). */
export async function advance(clock: FakeClock, ms: number): Promise<void> {
  clock.advance(ms);
  await vi.advanceTimersByTimeAsync(ms);
}

/** A small seeded generator (mulberry32), so a failing run can be replayed from its seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export { eventOf as modelEvent, TENANT as MODEL_TENANT };
