import type { Interceptor } from "@connectrpc/connect";
import { createValidator } from "@bufbuild/protovalidate";
import { createValidateInterceptor } from "@connectrpc/validate";

/**
 * Validates every request message against the protovalidate (buf.validate) constraints declared
 * in the protos; a violation answers INVALID_ARGUMENT with field details before the handler runs.
 * Uses Connect's own interceptor (@connectrpc/validate) rather than a hand-written one.
 */
export function createValidationInterceptor(): Interceptor {
  return createValidateInterceptor({ validator: createValidator() });
}
