import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { CloseCode } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { bearer, wsConnection } from "./realtime-clients.js";

const platform = inject("embedded");

/*
 * A credential that is not an access token at all is refused with the same words on RPCs
 * (through the gateway and at the owner) and on the WebSocket: it is named malformed.
 */
describe("a malformed access token", () => {
  const garbage = "garbage-not-a-token";

  it.each(["gateway", "chat"])("is UNAUTHENTICATED 'access token is malformed' on an RPC at the %s", async (at) => {
    const chat = createClient(ChatService, createGrpcTransport({ baseUrl: platform.endpoints[at]!, interceptors: [bearer(garbage)] }));
    const err = await chat.listConversations({}).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.Unauthenticated);
    expect(err?.rawMessage).toBe("access token is malformed");
  });

  it("gets the same words on the WebSocket", async () => {
    const ws = await wsConnection(platform.endpoints.socket!, "garbage-ws");
    const refused = await ws.call({ id: 1n, frame: { case: "auth", value: { accessToken: garbage } } });
    expect(refused.frame.case).toBe("error");
    if (refused.frame.case !== "error") return;
    expect(refused.frame.value.code).toBe(Code.Unauthenticated);
    expect(refused.frame.value.message).toBe("access token is malformed");
    expect((await ws.waitClosed()).code).toBe(4000 + CloseCode.AUTH_FAILED);
  });
});
