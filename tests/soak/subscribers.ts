import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import WebSocket from "ws";
import { ClientFrameSchema, ServerFrameSchema, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { RealtimeService } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { bearer } from "../support/tenants.js";
import type { Deliveries } from "./ledger.js";

/** The per-conversation catch-up size asked for on resume (the protocol's maximum). */
const RESUME_LIMIT = 200;
/** The most positions a Resume may carry (ADR 0090). */
const MAX_POSITIONS = 500;
/** A client ping this often keeps a WebSocket inside the server's two silent heartbeat intervals. */
const PING_MS = 10_000;

/** Why and when a subscriber's connection ended, and when it was live again. */
export interface Outage {
  endedAt: number;
  reason: string;
  resumedAt?: number;
}

/**
 * A realtime client that follows the protocol: it keeps every event its connections carry
 * (catch-up and pushed), keeps the newest ResumeDone or Checkpoint cursor, and after every
 * disconnect connects again and resumes with that cursor and its positions (ADR 0090): per
 * conversation, the newest seq it holds with every seq before it (from 1; a seq it lacks stops
 * the position there, so a resume never skips it). Positions only trim what the cursor's catch-up
 * would repeat, so an event a cursor wrongly covers is still missing after the resume. Deliveries
 * are recorded per conversation, repeats included, for the ledger.
 */
export abstract class Subscriber {
  readonly deliveries = new Map<string, Deliveries>();
  readonly outages: Outage[] = [];
  cursor = "";
  checkpoints = 0;
  resumes = 0;
  limitedCatchups = 0;
  live = false;
  private running = true;
  private loop?: Promise<void>;
  private readonly seen = new Map<string, Set<bigint>>();
  /** Per conversation, the newest seq held with every seq before it (Map order: most recently advanced last). */
  private readonly held = new Map<string, bigint>();

  constructor(
    readonly name: string,
    /** The current access token (renewed by the caller as a client renews it). */
    protected readonly token: () => string,
    protected readonly url: () => string,
  ) {}

  /** One connection: resolves when it ends (with the reason); calls `frame` for each frame. */
  protected abstract session(frame: (f: ServerFrame, connMax: Map<string, bigint>) => void, stop: Promise<void>): Promise<string>;

  start(): void {
    this.running = true;
    let stopNow!: () => void;
    const stop = new Promise<void>((r) => (stopNow = r));
    this.stopSession = stopNow;
    this.loop = (async () => {
      while (this.running) {
        let reason: string;
        try {
          reason = await this.session((f, connMax) => this.onFrame(f, connMax), stop);
        } catch (err) {
          reason = err instanceof Error ? err.message : String(err);
        }
        if (this.live) this.outages.push({ endedAt: Date.now(), reason });
        this.live = false;
        if (this.running) await new Promise((r) => setTimeout(r, 200));
      }
    })();
  }

  private stopSession?: () => void;

  async stop(): Promise<void> {
    this.running = false;
    this.stopSession?.();
    await this.loop;
  }

  /** Resolves once the subscriber is live (resumed) or fails after `ms`. */
  async waitLive(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.live) {
      if (Date.now() > until) throw new Error(`${this.name} not live within ${ms} ms (outages: ${JSON.stringify(this.outages.slice(-3))})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private deliver(conversationId: string, seq: bigint, connMax: Map<string, bigint>): void {
    let d = this.deliveries.get(conversationId);
    if (!d) this.deliveries.set(conversationId, (d = { seqs: [], outOfOrder: 0 }));
    let seen = this.seen.get(conversationId);
    if (!seen) this.seen.set(conversationId, (seen = new Set()));
    const max = connMax.get(conversationId) ?? 0n;
    if (seq < max && !seen.has(seq)) d.outOfOrder++;
    if (seq > max) connMax.set(conversationId, seq);
    seen.add(seq);
    d.seqs.push(seq);
    let pos = this.held.get(conversationId) ?? 0n;
    if (seen.has(pos + 1n)) {
      while (seen.has(pos + 1n)) pos++;
      this.held.delete(conversationId);
      this.held.set(conversationId, pos);
    }
  }

  /** The Resume's positions: the most recently advanced conversations first, at most the protocol's 500. */
  protected positions(): { conversationId: string; seq: bigint }[] {
    return [...this.held]
      .reverse()
      .slice(0, MAX_POSITIONS)
      .map(([conversationId, seq]) => ({ conversationId, seq }));
  }

  private onFrame(f: ServerFrame, connMax: Map<string, bigint>): void {
    const frame = f.frame;
    if (frame.case === "changes") {
      if (frame.value.limited) this.limitedCatchups++;
      for (const e of frame.value.events) this.deliver(frame.value.conversationId, e.seq, connMax);
    } else if (frame.case === "event") {
      this.deliver(frame.value.conversationId, frame.value.seq, connMax);
    } else if (frame.case === "resumeDone") {
      this.cursor = frame.value.cursor;
      this.resumes++;
      this.live = true;
      const last = this.outages[this.outages.length - 1];
      if (last && last.resumedAt === undefined) last.resumedAt = Date.now();
    } else if (frame.case === "checkpoint") {
      this.cursor = frame.value.cursor;
      this.checkpoints++;
    }
  }
}

type FrameInit = MessageInitShape<typeof ClientFrameSchema>;

/** A subscriber on the WebSocket endpoint `/ws` (binary frames), authenticating with an Auth frame. */
export class WsSubscriber extends Subscriber {
  protected async session(frame: (f: ServerFrame, connMax: Map<string, bigint>) => void, stop: Promise<void>): Promise<string> {
    const ws = new WebSocket(`${this.url().replace(/^http/, "ws")}/ws`);
    const connMax = new Map<string, bigint>();
    let nextId = 1n;
    const send = (f: FrameInit) => ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { ...f, id: nextId++ })));
    let ping: NodeJS.Timeout | undefined;
    try {
      return await new Promise<string>((resolve) => {
        ws.on("open", () => send({ frame: { case: "auth", value: { accessToken: this.token() } } }));
        ws.on("message", (data: Buffer) => {
          const f = fromBinary(ServerFrameSchema, data);
          if (f.frame.case === "authOk") {
            send({ frame: { case: "resume", value: { cursor: this.cursor, perConversationLimit: RESUME_LIMIT, positions: this.positions() } } });
            ping = setInterval(() => send({ frame: { case: "ping", value: { nonce: 1n } } }), PING_MS);
          } else if (f.frame.case === "error") {
            ws.close();
            resolve(`error frame ${f.frame.value.code}: ${f.frame.value.message}`);
          }
          frame(f, connMax);
        });
        ws.on("close", (code, reason) => resolve(`ws closed ${code} ${reason.toString()}`));
        ws.on("error", (err) => resolve(`ws error ${err.message}`));
        void stop.then(() => ws.close());
      });
    } finally {
      clearInterval(ping);
      ws.removeAllListeners();
      ws.on("error", () => undefined);
      ws.terminate();
    }
  }
}

/** A subscriber on the gRPC server stream RealtimeService.Subscribe, resuming through its request. */
export class GrpcSubscriber extends Subscriber {
  protected async session(frame: (f: ServerFrame, connMax: Map<string, bigint>) => void, stop: Promise<void>): Promise<string> {
    const client = createClient(RealtimeService, createGrpcTransport({ baseUrl: this.url(), interceptors: [bearer(this.token())] }));
    const abort = new AbortController();
    void stop.then(() => abort.abort());
    const connMax = new Map<string, bigint>();
    try {
      for await (const r of client.subscribe({ resume: { cursor: this.cursor, perConversationLimit: RESUME_LIMIT, positions: this.positions() } }, { signal: abort.signal, timeoutMs: 0 })) {
        if (r.frame) frame(r.frame, connMax);
      }
      return "stream ended";
    } catch (err) {
      return `stream failed: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      abort.abort();
    }
  }
}
