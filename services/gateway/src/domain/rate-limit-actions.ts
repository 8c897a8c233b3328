import type { DescMethod } from "@bufbuild/protobuf";
import type { RateLimitAction } from "@caas/shared/rate-limiting/rules";

/**
 * Which rate-limit action each public RPC counts against, by fully-qualified method name
 * (`<package>.<Service>/<Method>`). Methods not listed count as `default` (a generous limit), so
 * a new RPC is limited from the day it is served. RealtimeService/Send is decided per frame
 * (`actionOf`). Sends and searches are not here: see OWNER_COUNTED.
 */
export const METHOD_ACTIONS: Readonly<Record<string, RateLimitAction>> = {
  "caas.chat.v1.ChatService/DeleteMessage": "delete",
  "caas.chat.v1.ChatService/DeleteConversation": "delete",
  "caas.auth.v1.UserAdminService/DeleteUser": "delete",
  "caas.media.v1.MediaService/CreateUpload": "upload",
  "caas.media.v1.MediaService/GetDownloadUrl": "download",
  "caas.media.v1.MediaService/DeleteMedia": "delete",
};

/**
 * RPCs whose owner counts their action itself, so the gateway counts them not at all (ADR 0023,
 * and ADR 0040 for searches):
 * every send reaches chat's send path, also those that never pass the gateway (the socket
 * service's WebSocket, Connect and Send paths), so chat is the one place `message.send` is
 * counted; counting here too would take two tokens per send through the gateway and one around it.
 */
export const OWNER_COUNTED: Readonly<Record<string, RateLimitAction>> = {
  "caas.chat.v1.ChatService/SendMessage": "message.send",
  "caas.chat.v1.ChatService/ForwardMessage": "message.send",
  "caas.realtime.v1.RealtimeService/Send#send": "message.send",
  // The search service counts every search (these RPCs and the realtime search frames) in one bucket.
  "caas.search.v1.SearchService/SearchMessages": "search",
  "caas.search.v1.SearchService/SearchConversations": "search",
  "caas.search.v1.SearchService/SearchUsers": "search",
  "caas.realtime.v1.RealtimeService/Send#searchMessages": "search",
  "caas.realtime.v1.RealtimeService/Send#searchConversations": "search",
  "caas.realtime.v1.RealtimeService/Send#searchUsers": "search",
};

/** Frames of RealtimeService/Send that have an action of their own (`send` frames: OWNER_COUNTED). */
const FRAME_ACTIONS: Readonly<Record<string, RateLimitAction>> = {
  typing: "typing",
};

/** The fully-qualified name of a method, as METHOD_ACTIONS keys it. */
export function methodName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

/**
 * The action a call counts against at the edge, or undefined when its owner counts it
 * (OWNER_COUNTED). `input` is the request message of a unary call (undefined for streams, which
 * count once when opened).
 */
export function actionOf(method: DescMethod, input: unknown): RateLimitAction | undefined {
  const name = methodName(method);
  if (name === "caas.realtime.v1.RealtimeService/Send") {
    const frameCase = (input as { frame?: { frame?: { case?: string } } } | undefined)?.frame?.frame?.case;
    if (frameCase !== undefined && OWNER_COUNTED[`${name}#${frameCase}`]) return undefined;
    return (frameCase !== undefined && FRAME_ACTIONS[frameCase]) || "default";
  }
  if (OWNER_COUNTED[name]) return undefined;
  return METHOD_ACTIONS[name] ?? "default";
}
