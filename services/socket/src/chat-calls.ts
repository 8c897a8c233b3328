import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { ChatService, SendMessageRequestSchema, type GetChangesResponse } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import type { SendMessage } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import type { ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { serverFrame } from "./frames.js";
import type { ConversationPosition } from "@caas/gen/caas/chat/v1/changes_pb.js";
import type { ConversationFact } from "./hub.js";

/** The generated chat client the socket service calls with each user's own token. */
export type ChatClient = Client<typeof ChatService>;

/** Call options presenting the user's access token (DESIGN: the callee verifies it itself). */
export function asUser(accessToken: string): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${accessToken}` } };
}

/**
 * Chat's error as the answer of a socket RPC: same code, message and details (RetryInfo of a
 * refused send), without chat's response headers, whose gRPC content-type would otherwise replace
 * this call's in a Connect or gRPC-web error answer. Anything else is passed on as it is.
 */
export function peerError(err: unknown): unknown {
  if (!(err instanceof ConnectError)) return err;
  const out = new ConnectError(err.rawMessage, err.code, undefined, undefined, err.cause);
  out.details = err.details;
  return out;
}

/**
 * Runs a `send` frame through ChatService.SendMessage; the SendAck answering frame `replyTo`.
 * `signal`: the sender's connection or call went away; chat then abandons the send unless it
 * already committed (a retry with the same client_message_id returns the ack either way).
 */
export async function sendThroughChat(chat: ChatClient, accessToken: string, replyTo: bigint, send: SendMessage, signal?: AbortSignal): Promise<ServerFrame> {
  const req = create(SendMessageRequestSchema, {
    conversationId: send.conversationId,
    clientMessageId: send.clientMessageId,
    text: send.text,
    mentionedUserIds: send.mentionedUserIds,
    custom: send.custom,
    attachments: send.attachments,
    replyToMessageId: send.replyToMessageId,
    threadParentId: send.threadParentId,
  });
  // A client's retry says so to chat as an RPC retry would (chat's retry budget, ADR 0155).
  const auth = asUser(accessToken);
  const headers = send.previousAttempts > 0 ? { ...auth.headers, "grpc-previous-rpc-attempts": String(send.previousAttempts) } : auth.headers;
  const ack = await chat.sendMessage(req, { headers, ...(signal ? { signal } : {}) });
  return serverFrame(replyTo, {
    case: "sendAck",
    value: { messageId: ack.messageId, seq: ack.seq, createTime: ack.createTime, duplicate: ack.duplicate },
  });
}

/**
 * Every conversation the user is a member of (ListConversations, all pages, archived too), with
 * the type and member count that decide whether receipts are shared.
 */
export async function listMemberships(chat: ChatClient, accessToken: string): Promise<ConversationFact[]> {
  const ids: ConversationFact[] = [];
  let pageToken = "";
  do {
    const page = await chat.listConversations({ pageSize: 200, pageToken, includeArchived: true }, asUser(accessToken));
    for (const view of page.conversations) {
      const c = view.conversation;
      if (c && view.membership) ids.push({ id: c.id, type: c.type, memberCount: c.memberCount, lastSeq: c.lastSeq });
    }
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return ids;
}

/**
 * Pages GetChanges from `cursor` until nothing more waits; calls `onPage` for each page in order.
 * `positions` (the client's newest seq per conversation, Resume.positions) go with every page:
 * chat trims what the client holds, and ignores what the caller may not read.
 */
export async function changesSince(
  chat: ChatClient,
  accessToken: string,
  cursor: string,
  perConversationLimit: number,
  onPage: (page: GetChangesResponse) => void,
  positions: readonly ConversationPosition[] = [],
): Promise<string> {
  let next = cursor;
  for (;;) {
    const page = await chat.getChanges({ cursor: next, limit: 100, perConversationLimit, positions: [...positions] }, asUser(accessToken));
    onPage(page);
    next = page.nextCursor;
    if (!page.hasMore) return next;
  }
}

/** Every current member of the listed conversations (ListMembers, all pages, with the user's token). */
export async function membersOf(chat: ChatClient, accessToken: string, conversationIds: readonly string[]): Promise<Set<string>> {
  const members = new Set<string>();
  for (const conversationId of conversationIds) {
    let pageToken = "";
    do {
      const page = await chat.listMembers({ conversationId, pageSize: 500, pageToken }, asUser(accessToken));
      for (const m of page.members) members.add(m.userId);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }
  return members;
}

/** Runs a `mark_read` or `mark_delivered` frame through chat; the read_state answering `replyTo`. */
export async function markThroughChat(chat: ChatClient, accessToken: string, replyTo: bigint, kind: "read" | "delivered", req: { conversationId: string; seq: bigint }): Promise<ServerFrame> {
  const call = { conversationId: req.conversationId, seq: req.seq };
  const res = kind === "read" ? await chat.markRead(call, asUser(accessToken)) : await chat.markDelivered(call, asUser(accessToken));
  return serverFrame(replyTo, { case: "readState", value: res.readState ?? { conversationId: req.conversationId } });
}

/** Whether the user (by their own token) is a member of the conversation; false when chat says NOT_FOUND. */
export async function isMemberOf(chat: ChatClient, accessToken: string, conversationId: string): Promise<boolean> {
  try {
    const got = await chat.getConversation({ conversationId }, asUser(accessToken));
    return got.membership !== undefined;
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) return false;
    throw peerError(err);
  }
}
