import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { BadRequestSchema, BadRequest_FieldViolationSchema, ResourceInfoSchema, RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { DurationSchema } from "@bufbuild/protobuf/wkt";

/** A field that failed validation, reported to the caller as google.rpc.BadRequest. */
export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * Base class of domain errors. Services and adapters throw these; the error interceptor maps
 * them to Connect codes in one place (`toConnectError`), so no handler builds a ConnectError.
 */
export abstract class DomainError extends Error {
  abstract readonly code: Code;
  /** The resource the error is about, sent as google.rpc.ResourceInfo (set with `about`). */
  resource?: { type: string; name: string };

  /** Names the resource (e.g. "caas.media.v1.Media", its id) so callers need not parse text. */
  about(type: string, name: string): this {
    this.resource = { type, name };
    return this;
  }
}

/** The resource does not exist *for this caller*: also used for another tenant's ids. */
export class NotFoundError extends DomainError {
  readonly code = Code.NotFound;
  constructor(what: string) {
    super(`${what} not found`);
  }
}

export class InvalidArgumentError extends DomainError {
  readonly code = Code.InvalidArgument;
  constructor(
    message: string,
    readonly violations: FieldViolation[] = [],
  ) {
    super(message);
  }
}

export class AlreadyExistsError extends DomainError {
  readonly code = Code.AlreadyExists;
}

export class PermissionDeniedError extends DomainError {
  readonly code = Code.PermissionDenied;
}

export class UnauthenticatedError extends DomainError {
  readonly code = Code.Unauthenticated;
}

export class FailedPreconditionError extends DomainError {
  readonly code = Code.FailedPrecondition;
}

export class UnavailableError extends DomainError {
  readonly code = Code.Unavailable;
}

/** Not built yet: the wiring is real, the RPC body is not. The message says which issue. */
export class UnimplementedError extends DomainError {
  readonly code = Code.Unimplemented;
}

/** A rate limit refused the call; `retryAfterMs` travels as google.rpc.RetryInfo. */
export class ResourceExhaustedError extends DomainError {
  readonly code = Code.ResourceExhausted;
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/**
 * Maps any thrown value to a ConnectError. Domain errors keep their code and message (plus
 * details); ConnectErrors pass through; anything else is an internal error whose message is not
 * revealed to the caller (it is logged by the logging interceptor instead).
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof DomainError) {
    if (err instanceof InvalidArgumentError && err.violations.length > 0) {
      const detail = create(BadRequestSchema, {
        fieldViolations: err.violations.map((v) => create(BadRequest_FieldViolationSchema, v)),
      });
      return new ConnectError(err.message, err.code, undefined, [{ desc: BadRequestSchema, value: detail }]);
    }
    if (err instanceof ResourceExhaustedError) {
      const ms = Math.max(0, Math.ceil(err.retryAfterMs));
      const detail = create(RetryInfoSchema, {
        retryDelay: create(DurationSchema, {
          seconds: BigInt(Math.floor(ms / 1000)),
          nanos: (ms % 1000) * 1_000_000,
        }),
      });
      return new ConnectError(err.message, err.code, undefined, [{ desc: RetryInfoSchema, value: detail }]);
    }
    if (err.resource) {
      const detail = create(ResourceInfoSchema, { resourceType: err.resource.type, resourceName: err.resource.name });
      return new ConnectError(err.message, err.code, undefined, [{ desc: ResourceInfoSchema, value: detail }]);
    }
    return new ConnectError(err.message, err.code);
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}
