/**
 * What other services' tests use to run chat in-process (media's access tests): the public and
 * internal service implementations and the store opener. Not for production code: a service
 * reaches chat over the mesh.
 */
export { ChatServiceImpl } from "../chat-service.js";
export { ChatInternalServiceImpl } from "../chat-internal-service.js";
export { openChatStores } from "../chat-stores.js";
