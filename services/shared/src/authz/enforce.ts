import { FailedPreconditionError, NotFoundError, PermissionDeniedError } from "../errors.js";
import type { Decision } from "./policy.js";

/** Throws the domain error of a deny decision (mapped to its gRPC code in one place); returns on allow. */
export function enforce(decision: Decision): void {
  if (decision.allow) return;
  switch (decision.code) {
    case "not_found":
      throw new NotFoundError(decision.reason);
    case "permission_denied":
      throw new PermissionDeniedError(decision.reason);
    case "failed_precondition":
      throw new FailedPreconditionError(decision.reason);
  }
}
