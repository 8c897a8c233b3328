import type { DescMethod } from "@bufbuild/protobuf";
import type { RateLimitAction } from "@caas/shared";

/**
 * Which rate-limit action each public RPC counts against, by fully-qualified method name
 * (`<package>.<Service>/<Method>`). Methods not listed count as `default` (a generous limit), so
 * a new RPC is limited from the day it is served. RealtimeService/Send is decided per frame
 * (`actionOf`). upload, download and search name the media and search RPCs once those services
 * are served through the gateway.
 */
export const METHOD_ACTIONS: Readonly<Record<string, RateLimitAction>> = {
  "caas.chat.v1.ChatService/SendMessage": "message.send",
  "caas.chat.v1.ChatService/ForwardMessage": "message.send",
  "caas.chat.v1.ChatService/DeleteMessage": "delete",
  "caas.chat.v1.ChatService/DeleteConversation": "delete",
  "caas.auth.v1.UserAdminService/DeleteUser": "delete",
};

/** Frames of RealtimeService/Send that have an action of their own. */
const FRAME_ACTIONS: Readonly<Record<string, RateLimitAction>> = {
  send: "message.send",
  typing: "typing",
};

/** The fully-qualified name of a method, as METHOD_ACTIONS keys it. */
export function methodName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

/**
 * The action a call counts against. `input` is the request message of a unary call (undefined
 * for streams, which count once when opened).
 */
export function actionOf(method: DescMethod, input: unknown): RateLimitAction {
  const name = methodName(method);
  if (name === "caas.realtime.v1.RealtimeService/Send") {
    const frameCase = (input as { frame?: { frame?: { case?: string } } } | undefined)?.frame?.frame?.case;
    return (frameCase !== undefined && FRAME_ACTIONS[frameCase]) || "default";
  }
  return METHOD_ACTIONS[name] ?? "default";
}
