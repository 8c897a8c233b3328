import { readFileSync } from "node:fs";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { bearer } from "../support/tenants.js";
import type { LoggedEvent, SendRecord } from "./ledger.js";

/** Codes a client does not retry: the request itself is wrong, retrying cannot help. */
const FINAL = new Set([Code.InvalidArgument, Code.NotFound, Code.PermissionDenied, Code.FailedPrecondition, Code.AlreadyExists, Code.OutOfRange, Code.Unimplemented]);

/** One conversation of the soak and who may send in it. */
export interface SoakConversation {
  id: string;
  kind: "direct" | "group" | "large";
  senders: string[];
}

/**
 * Sends as clients do: every send has a client_message_id and is retried with it on failure
 * (after the server's retry delay when it sheds load, otherwise with backoff) until acknowledged
 * or the budget runs out. Each attempt has a client deadline. Records everything in `sends`.
 */
export class Senders {
  readonly sends = new Map<string, SendRecord>();
  private readonly clients = new Map<string, Client<typeof ChatService>>();
  private inFlight = new Set<Promise<void>>();
  private n = 0;

  constructor(
    private readonly gatewayUrl: string,
    private readonly token: (user: string) => string,
    private readonly opts: { attemptTimeoutMs: number; budgetMs: number },
  ) {}

  private client(user: string): Client<typeof ChatService> {
    let c = this.clients.get(user);
    if (!c) {
      c = createClient(ChatService, createGrpcTransport({ baseUrl: this.gatewayUrl, interceptors: [(next) => (req) => bearer(this.token(user))(next)(req)] }));
      this.clients.set(user, c);
    }
    return c;
  }

  /** Starts one send (not awaited: the load is open-loop, a slow send does not slow the rate). */
  send(conversation: SoakConversation, sender: string): Promise<SendRecord> {
    const clientMessageId = `${sender}-${process.pid}-${this.n++}`;
    const record: SendRecord = { conversationId: conversation.id, clientMessageId, senderId: sender, attempts: 0, failures: [], conflictingAcks: 0, abandoned: false, firstAttemptAt: Date.now() };
    this.sends.set(clientMessageId, record);
    const p = this.run(record, conversation.kind);
    const tracked = p.then(() => undefined);
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
    return p.then(() => record);
  }

  private async run(record: SendRecord, kind: string): Promise<void> {
    const until = record.firstAttemptAt + this.opts.budgetMs;
    for (let attempt = 0; Date.now() < until; attempt++) {
      record.attempts++;
      try {
        const ack = await this.client(record.senderId).sendMessage(
          { conversationId: record.conversationId, clientMessageId: record.clientMessageId, text: `${kind} ${record.clientMessageId}` },
          // A retry says so, as gRPC's retrying clients do: chat takes retries on within a budget.
          { timeoutMs: this.opts.attemptTimeoutMs, headers: attempt > 0 ? { "grpc-previous-rpc-attempts": String(attempt) } : undefined },
        );
        if (!record.ack) record.ack = { messageId: ack.messageId, seq: ack.seq, at: Date.now() };
        else if (record.ack.messageId !== ack.messageId || record.ack.seq !== ack.seq) record.conflictingAcks++;
        return;
      } catch (err) {
        const e = ConnectError.from(err);
        record.failures.push(Code[e.code]);
        if (FINAL.has(e.code)) throw new Error(`send ${record.clientMessageId} refused for good: ${e.message}`, { cause: err });
        const d = e.findDetails(RetryInfoSchema)[0]?.retryDelay;
        const backoff = d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : Math.min(2000, 50 * 2 ** Math.min(attempt, 6));
        await new Promise((r) => setTimeout(r, backoff * (0.5 + Math.random())));
      }
    }
    record.abandoned = true;
  }

  /** Resolves when every started send has been acknowledged or abandoned. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** The whole log of a conversation, read with Sync by one of its members. */
  async readLog(conversationId: string, member: string): Promise<LoggedEvent[]> {
    const out: LoggedEvent[] = [];
    for (let after = 0n; ;) {
      const page = await this.client(member).sync({ conversationId, afterSeq: after, limit: 500 }, { timeoutMs: 30_000 });
      for (const e of page.events) {
        const m = e.payload.case === "messageCreated" ? e.payload.value.message : undefined;
        out.push({ seq: e.seq, ...(m ? { message: { id: m.id, clientMessageId: m.clientMessageId, senderId: m.senderId } } : {}) });
      }
      if (!page.hasMore || page.events.length === 0) return out;
      after = page.events[page.events.length - 1]!.seq;
    }
  }
}

/** Resident memory of a process in MiB, or undefined when it is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : undefined;
  } catch {
    return undefined;
  }
}
