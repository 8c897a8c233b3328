import { createHash } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import { SendMessageRequestSchema, type SendMessageRequest, type SendMessageResponse } from "@caas/gen/caas/chat/v1/chat_service_pb.js";

/** Acks remembered per chat instance (the oldest dropped first): about 200 bytes each. */
const MAX_ACKS = 10_000;

/**
 * The acks of the sends this instance committed last, by idempotency key (tenant, sender,
 * client_message_id) and a digest of the request's bytes. A send repeated with the same bytes
 * (a client's retry whose first answer was lost or came after its deadline) is answered from here
 * with its original ack, marked duplicate, before any admission, rate limit or store read: under
 * an overload such retries are many, and each would otherwise cost the store the reads of a send
 * or be refused until its client gave up, leaving a committed message its sender believes failed.
 * Anything else (another payload, another instance's commit, an ack forgotten) takes the full
 * path, where the log's idempotency answers it (ALREADY_EXISTS for another payload).
 */
export class RecentAcks {
  private readonly acks = new Map<string, { digest: string; ack: SendMessageResponse }>();

  constructor(private readonly max = MAX_ACKS) {}

  /** The original ack of the same request committed here, marked duplicate; undefined when unknown. */
  get(key: string, req: SendMessageRequest): SendMessageResponse | undefined {
    const known = this.acks.get(key);
    if (!known || known.digest !== digestOf(req)) return undefined;
    return { ...known.ack, duplicate: true };
  }

  /** Remembers the ack of a request this instance committed (or answered as a duplicate). */
  remember(key: string, req: SendMessageRequest, ack: SendMessageResponse): void {
    this.acks.delete(key);
    this.acks.set(key, { digest: digestOf(req), ack });
    if (this.acks.size > this.max) this.acks.delete(this.acks.keys().next().value as string);
  }
}

function digestOf(req: SendMessageRequest): string {
  return createHash("sha256").update(toBinary(SendMessageRequestSchema, req)).digest("base64");
}
