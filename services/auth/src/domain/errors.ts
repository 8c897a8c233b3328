import { Code } from "@connectrpc/connect";
import { DomainError } from "@caas/shared/errors";

/**
 * A fixed quota is used up (e.g. active API keys per tenant): RESOURCE_EXHAUSTED without a retry
 * delay, since waiting does not help (ResourceExhaustedError is for rate limits, with one).
 */
export class QuotaExceededError extends DomainError {
  readonly code = Code.ResourceExhausted;
}
