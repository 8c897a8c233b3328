import { Code, ConnectError } from "@connectrpc/connect";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { ViolationsSchema, type FieldPath, type Violations } from "./gen/buf/validate/validate_pb.js";
import { BadRequestSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import type { FrameError } from "./gen/caas/realtime/v1/frame_pb.js";

export { Code } from "@connectrpc/connect";

/** One input field that failed validation. */
export interface FieldViolation {
  /** The field's path in the request, e.g. `conversation_id` or `members[0].user_id`. */
  field: string;
  /** Why it failed (English, developer-facing). */
  description: string;
  /** The protovalidate rule id when the server names one, e.g. `string.uuid`. */
  ruleId?: string;
}

/**
 * Every failure the SDK reports: the gRPC code, the server's message, the field violations of an
 * INVALID_ARGUMENT and the retry delay of a RESOURCE_EXHAUSTED or UNAVAILABLE, decoded from the
 * error details (google.rpc.BadRequest, buf.validate.Violations, google.rpc.RetryInfo). It is a
 * ConnectError (its `name` stays "ConnectError": connect-es recognises its errors by that name and
 * would otherwise wrap this one in a plain ConnectError), so code written against Connect keeps
 * working.
 */
export class CaasError extends ConnectError {
  /** The failed fields (empty unless INVALID_ARGUMENT came with details). */
  readonly fieldViolations: FieldViolation[];
  /** Wait at least this long before retrying (RESOURCE_EXHAUSTED, UNAVAILABLE), when the server said. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, code: Code, opts: { fieldViolations?: FieldViolation[]; retryAfterMs?: number; cause?: unknown; metadata?: ConstructorParameters<typeof ConnectError>[2] } = {}) {
    super(message, code, opts.metadata, undefined, opts.cause);
    this.fieldViolations = opts.fieldViolations ?? [];
    this.retryAfterMs = opts.retryAfterMs;
  }

  /** Only real CaasErrors (ConnectError's own check accepts any error shaped like one). */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === "object" && v !== null && Object.prototype.isPrototypeOf.call(CaasError.prototype, v);
  }

  /** The code's name as in the gRPC spec, e.g. `INVALID_ARGUMENT`. */
  get codeName(): string {
    return codeName(this.code);
  }

  /** Converts anything thrown by a call (ConnectError, fetch failure, ...) to a CaasError. */
  static override from(err: unknown): CaasError {
    if (err instanceof CaasError) return err;
    const ce = ConnectError.from(err);
    const fieldViolations: FieldViolation[] = [];
    for (const v of ce.findDetails(ViolationsSchema)) fieldViolations.push(...fromViolations(v));
    for (const b of ce.findDetails(BadRequestSchema)) {
      for (const f of b.fieldViolations) fieldViolations.push({ field: f.field, description: f.description });
    }
    const retry = ce.findDetails(RetryInfoSchema)[0]?.retryDelay;
    return new CaasError(ce.rawMessage, ce.code, {
      fieldViolations,
      ...(retry ? { retryAfterMs: durationMs(retry) } : {}),
      cause: ce.cause ?? err,
      metadata: ce.metadata,
    });
  }

  /** The error a realtime frame was answered with. */
  static fromFrame(f: FrameError): CaasError {
    return new CaasError(f.message, f.code || Code.Unknown, {
      fieldViolations: f.violations ? fromViolations(f.violations) : [],
      ...(f.retryAfter ? { retryAfterMs: durationMs(f.retryAfter) } : {}),
    });
  }
}

/** True for failures a retry may fix (the server or the network, not the request). */
export function isRetryable(err: CaasError): boolean {
  return [Code.Unavailable, Code.ResourceExhausted, Code.DeadlineExceeded, Code.Aborted, Code.Canceled, Code.Internal, Code.Unknown].includes(err.code);
}

/** `INVALID_ARGUMENT` for Code.InvalidArgument, and so on. */
export function codeName(code: Code): string {
  return (Code[code] ?? "UNKNOWN").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

function fromViolations(v: Violations): FieldViolation[] {
  return v.violations.map((x) => ({
    field: fieldPath(x.field),
    description: x.message,
    ...(x.ruleId ? { ruleId: x.ruleId } : {}),
  }));
}

function fieldPath(p: FieldPath | undefined): string {
  if (!p) return "";
  return p.elements
    .map((e) => {
      const s = e.subscript;
      const sub = s.case === undefined ? "" : s.case === "index" ? `[${s.value}]` : `[${JSON.stringify(String(s.value))}]`;
      return `${e.fieldName}${sub}`;
    })
    .join(".");
}

function durationMs(d: Duration): number {
  return Number(d.seconds) * 1000 + Math.round(d.nanos / 1_000_000);
}
