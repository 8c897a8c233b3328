import type { Presence, ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { InvalidArgumentError } from "@caas/shared/errors";
import { membersOf, type ChatClient } from "./chat-calls.js";
import { errorFrame, serverFrame } from "./frames.js";
import type { Hub } from "./hub.js";
import type { PresenceHolder, PresenceTracker } from "./presence.js";
import type { SessionIdentity } from "./session-auth.js";

/** The most users one SubscribePresence may follow (frame.proto: SubscribePresence.user_ids). */
export const MAX_FOLLOWED = 200;

/** A session as presence following sees it. */
export interface Follower extends PresenceHolder {
  /** The identity while the session is open, else undefined. */
  readonly who: SessionIdentity | undefined;
  readonly isOpen: boolean;
  /** Queues a frame on the session (nothing once it closed). */
  push(frame: ServerFrame): void;
  /** Queues a reply to client frame `replyTo` (dropped for id 0). */
  reply(replyTo: bigint, frame: ServerFrame): void;
}

/** What following needs of the instance. */
export interface FollowingDeps {
  presence?: PresenceTracker;
  chat: ChatClient;
  hub: Hub;
}

/**
 * Starts `follower` following the listed users who share a conversation with them (and the user
 * themself); others are left out silently, so presence reveals nothing about strangers. Returns
 * each followed user's presence now; undefined when the session is not open or presence is not
 * served. Throws INVALID_ARGUMENT past MAX_FOLLOWED users, and chat's errors.
 */
export async function followPresence(deps: FollowingDeps, follower: Follower, userIds: string[]): Promise<Presence[] | undefined> {
  const who = follower.who;
  const tracker = deps.presence;
  if (!who || !tracker) return undefined;
  if (userIds.length > MAX_FOLLOWED) throw new InvalidArgumentError(`subscribe_presence.user_ids: at most ${MAX_FOLLOWED} users`);
  const wanted = [...new Set(userIds)];
  const others = wanted.filter((u) => u !== who.userId);
  const visible = others.length > 0 ? await membersOf(deps.chat, who.accessToken, deps.hub.conversationsOf(who.tenantId, who.userId)) : new Set<string>();
  if (!follower.isOpen) return undefined;
  return tracker.follow(
    follower,
    wanted.filter((u) => u === who.userId || visible.has(u)),
  );
}

/** Pushes Presence frames (what `followPresence` returned) on the session. */
export function pushPresence(follower: Follower, now: readonly Presence[]): void {
  for (const p of now) follower.push(serverFrame(0n, { case: "presence", value: p }));
}

/** The SubscribePresence frame: Ack (reply_to `replyTo`), then a Presence frame per followed user, then one on every change. */
export async function subscribePresence(deps: FollowingDeps, follower: Follower, replyTo: bigint, userIds: string[]): Promise<void> {
  try {
    const now = await followPresence(deps, follower, userIds);
    if (now === undefined) return;
    follower.reply(replyTo, serverFrame(replyTo, { case: "ack", value: {} }));
    pushPresence(follower, now);
  } catch (err) {
    follower.reply(replyTo, errorFrame(replyTo, err));
  }
}
