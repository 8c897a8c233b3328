import type { Client } from "@connectrpc/connect";
import type { ClientFrame, ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { SearchService } from "@caas/gen/caas/search/v1/search_service_pb.js";
import { asUser } from "./chat-calls.js";
import { serverFrame } from "./frames.js";

/** The generated search client the socket service calls with each user's own token. */
export type SearchClient = Client<typeof SearchService>;

/** The client frame cases answered by the search service. */
export type SearchFrame = Extract<ClientFrame["frame"], { case: "searchMessages" | "searchConversations" | "searchUsers" }>;

/** Whether a client frame is one of the search requests. */
export function isSearchFrame(f: ClientFrame["frame"]): f is SearchFrame {
  return f.case === "searchMessages" || f.case === "searchConversations" || f.case === "searchUsers";
}

/**
 * Runs a search frame through SearchService with the user's token: the search service counts it
 * in the user's `search` bucket, the same one its RPCs take from, so the two paths share one
 * limit; its errors (RetryInfo included) become the FrameError through the caller.
 */
export async function searchThroughSearch(search: SearchClient, accessToken: string, replyTo: bigint, f: SearchFrame): Promise<ServerFrame> {
  const opts = asUser(accessToken);
  switch (f.case) {
    case "searchMessages":
      return serverFrame(replyTo, { case: "searchMessages", value: await search.searchMessages(f.value, opts) });
    case "searchConversations":
      return serverFrame(replyTo, { case: "searchConversations", value: await search.searchConversations(f.value, opts) });
    case "searchUsers":
      return serverFrame(replyTo, { case: "searchUsers", value: await search.searchUsers(f.value, opts) });
  }
}
