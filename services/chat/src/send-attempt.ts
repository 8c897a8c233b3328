/** The request header a retrying client sets: how many attempts of this call came before (gRPC's retry design, A6). */
export const PREVIOUS_ATTEMPTS_HEADER = "grpc-previous-rpc-attempts";

/** Attempts before this one as the caller's header names them (0: a first attempt, or a client that does not say). */
export function previousAttempts(headers: Headers): number {
  const v = headers.get(PREVIOUS_ATTEMPTS_HEADER);
  return v !== null && /^\d{1,4}$/.test(v) ? Number(v) : 0;
}

/**
 * What the admission needs to know of a send: whether it is a retry, its idempotency key (a send
 * without a client_message_id has none) and the caller's signal.
 */
export function sendAttempt(caller: { scope: { tenantId: string }; userId: string }, clientMessageId: string, ctx: { requestHeader: Headers; signal: AbortSignal }) {
  return {
    retry: previousAttempts(ctx.requestHeader) > 0,
    key: clientMessageId === "" ? undefined : JSON.stringify([caller.scope.tenantId, caller.userId, clientMessageId]),
    signal: ctx.signal,
  };
}
