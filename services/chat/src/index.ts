import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { notBuiltYet, type ServiceContext, type ServiceDefinition } from "@caas/shared";

const ISSUE = "issues #5 and #6, Chat core";

/**
 * The chat service owns conversations, membership, the conversation event log, message
 * operations, history and sync, read state and unread counts. Contracts are final for v1; the
 * implementations come with the Chat core issues.
 */
export function createChatService(_ctx: ServiceContext): ServiceDefinition {
  return {
    name: "chat",
    services: [ChatService, ChatInternalService],
    register(router) {
      router.service(ChatService, notBuiltYet(ChatService, ISSUE));
      router.service(ChatInternalService, notBuiltYet(ChatInternalService, ISSUE));
    },
  };
}
