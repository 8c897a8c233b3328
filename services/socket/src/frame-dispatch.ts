import { setMaxListeners } from "node:events";
import { Code } from "@connectrpc/connect";
import type { ClientFrame, ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { markThroughChat, sendThroughChat } from "./chat-calls.js";
import { errorFrame, exhausted, failure, serverFrame } from "./frames.js";
import { subscribePresence, type Follower } from "./presence-following.js";
import { isSearchFrame, searchThroughSearch } from "./search-calls.js";
import type { SessionIdentity } from "./session-auth.js";
import { INFLIGHT_RETRY_MS, type SessionDeps } from "./session-types.js";

/** A connection's sends at chat: how many are in flight, and the signal that abandons them when it ends. */
export class SendsInFlight {
  count = 0;
  /** Made at the first send (an idle connection carries none: memory per connection). */
  private gone?: AbortController;

  /** The signal aborted when the connection ends: uncommitted sends are abandoned. */
  get signal(): AbortSignal {
    if (!this.gone) {
      this.gone = new AbortController();
      // Each send in flight to chat listens until it ends; more than 10 at once is not a leak.
      setMaxListeners(0, this.gone.signal);
    }
    return this.gone.signal;
  }

  /** The connection ended. */
  abandon(): void {
    this.gone?.abort();
  }
}

/** An open session as the frame dispatch sees it. */
export interface DispatchHost extends Follower {
  readonly deps: SessionDeps;
  readonly sends: SendsInFlight;
  resume(replyTo: bigint, resume: NonNullable<Extract<ClientFrame["frame"], { case: "resume" }>["value"]>): Promise<void>;
  reauth(replyTo: bigint, accessToken: string): Promise<ServerFrame>;
}

/** Answers `replyTo` with what `work` resolves to, or with the FrameError of its failure. */
function answer(host: DispatchHost, replyTo: bigint, work: Promise<ServerFrame>): Promise<void> {
  return work.then(
    (reply) => host.reply(replyTo, reply),
    (err: unknown) => host.reply(replyTo, errorFrame(replyTo, err)),
  );
}

/**
 * One client frame of an open session, by case. A send is chat's write path with the user's
 * token: chat counts it against the user's `message.send` rate (the only place sends are counted,
 * ADR 0023) and its RESOURCE_EXHAUSTED comes back as a FrameError with retry_after from its
 * RetryInfo. Frames of a feature this instance does not serve answer UNAVAILABLE.
 */
export function dispatchFrame(host: DispatchHost, frame: ClientFrame): void {
  const id = frame.id;
  const f = frame.frame;
  const { deps } = host;
  const who: SessionIdentity | undefined = host.who;
  if (!who) return; // an earlier frame of the same batch closed the session
  switch (f.case) {
    case "auth":
      host.reply(id, failure(id, Code.FailedPrecondition, "the connection is already authenticated"));
      return;
    case "send": {
      const max = deps.limits.maxInflightSends;
      const sends = host.sends;
      if (max !== undefined && sends.count >= max) {
        host.reply(id, exhausted(id, `too many sends in flight on this connection (at most ${max}): wait for their acks`, INFLIGHT_RETRY_MS));
        return;
      }
      sends.count++;
      void answer(host, id, sendThroughChat(deps.chat, who.accessToken, id, f.value, sends.signal)).finally(() => sends.count--);
      return;
    }
    case "markRead":
    case "markDelivered":
      void answer(host, id, markThroughChat(deps.chat, who.accessToken, id, f.case === "markRead" ? "read" : "delivered", f.value));
      return;
    case "ping":
      host.reply(id, serverFrame(id, { case: "pong", value: { nonce: f.value.nonce } }));
      return;
    case "resume":
      void host.resume(id, f.value);
      return;
    case "reauth":
      void host.reauth(id, f.value.accessToken);
      return;
    case "subscribePresence":
      if (!deps.presence) break;
      void subscribePresence(deps, host, id, f.value.userIds);
      return;
    case "searchMessages":
    case "searchConversations":
    case "searchUsers": {
      if (!deps.search) break;
      void answer(host, id, searchThroughSearch(deps.search, who.accessToken, id, f));
      return;
    }
    case "typing": {
      if (!deps.typing) break;
      void answer(host, id, deps.typing.set(who, id, f.value));
      return;
    }
  }
  if (f.case === "typing" || f.case === "subscribePresence" || isSearchFrame(f)) host.reply(id, failure(id, Code.Unavailable, `${f.case} is not served by this socket instance`));
  else host.reply(id, failure(id, Code.Unimplemented, "unknown client frame case"));
}
