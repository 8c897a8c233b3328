import type { DescMessage, Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createValidator, violationsToProto, type Validator } from "@bufbuild/protovalidate";
import { unknownEnumError } from "../server/json-enum-check.js";

/**
 * How many field violations an INVALID_ARGUMENT error carries at most. A hostile request with
 * thousands of violations would otherwise produce an error hundreds of times its own size (and
 * larger than a gRPC trailer may be); the first ones and the count are enough to fix a request.
 */
export const MAX_REPORTED_VIOLATIONS = 20;

export interface ValidationInterceptorOptions {
  /** Service type names not validated here: the host forwards them to an owner that authenticates the caller first and then validates. */
  skipServices?: readonly string[];
  /** At most this many violations in the error details (default MAX_REPORTED_VIOLATIONS). */
  maxViolations?: number;
}

/**
 * Validates every request message against the protovalidate (buf.validate) constraints declared
 * in the protos; a violation answers INVALID_ARGUMENT with field details before the handler runs.
 * The message names the first violation and how many there were in all; the details carry the
 * first `maxViolations`. An enum name that names no value in a Connect JSON request (found by
 * withJsonEnumCheck) is answered first, as a violation naming the value.
 */
export function createValidationInterceptor(opts: ValidationInterceptorOptions = {}): Interceptor {
  const validator = createValidator();
  const skip = new Set(opts.skipServices ?? []);
  const max = opts.maxViolations ?? MAX_REPORTED_VIOLATIONS;
  return (next) => (req) => {
    // An unknown enum name is lost once parsed: the owner behind a forwarding host cannot see it.
    const unknownEnum = unknownEnumError(req.contextValues, max);
    if (unknownEnum) throw unknownEnum;
    if (skip.has(req.service.typeName)) return next(req);
    const input = req.method.input;
    if (!req.stream) {
      check(validator, input, req.message, max);
      return next(req);
    }
    const source = req.message;
    return next({
      ...req,
      message: (async function* () {
        for await (const m of source) {
          check(validator, input, m, max);
          yield m;
        }
      })(),
    });
  };
}

function check(validator: Validator, desc: DescMessage, message: Message, max: number): void {
  const result = validator.validate(desc, message);
  if (result.kind === "valid") return;
  if (result.kind === "error") throw new ConnectError(result.error.message, Code.InvalidArgument, undefined, undefined, result.error);
  // The message already names the first violation and the count ("…, and 749 more violations").
  const [value, schema] = violationsToProto(result.violations.slice(0, max));
  throw new ConnectError(result.error.message, Code.InvalidArgument, undefined, [{ desc: schema, value }], result.error);
}
