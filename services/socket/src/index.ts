import { RealtimeService } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { notBuiltYet, type ServiceContext, type ServiceDefinition } from "@caas/shared";

/**
 * The socket service holds client sessions (WebSocket at /ws, gRPC bidi Connect, gRPC-web
 * Subscribe plus unary Send), fans events out, and keeps presence and typing. The envelope is
 * final for v1; the implementation comes with the Realtime issue.
 */
export function createSocketService(_ctx: ServiceContext): ServiceDefinition {
  return {
    name: "socket",
    services: [RealtimeService],
    register(router) {
      router.service(RealtimeService, notBuiltYet(RealtimeService, "issue #7, Realtime"));
    },
  };
}
