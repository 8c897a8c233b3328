import { create, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, createContextValues, type ContextValues } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { FieldPathElementSchema, ViolationsSchema } from "@caas/gen/buf/validate/validate_pb.js";
import { wrapHandler } from "./handler-wrap.js";

/** Connect unary JSON requests, the only ones whose whole body is one JSON document. */
const CONNECT_JSON = /^application\/json(;|$)/i;

/** An enum name in a request that names no value of its enum, and where it was. */
export interface UnknownEnumName {
  path: { fieldName: string; fieldNumber: number }[];
  value: string;
  enumName: string;
  example: string;
}

/** The unknown enum names withJsonEnumCheck found in the request (empty for other requests). */
export const unknownEnumNamesKey = createContextKey<UnknownEnumName[]>([], { description: "unknown enum names in a JSON request" });

/**
 * Finds, in a Connect JSON request, enum names that name no value of their enum
 * (`"type": "GROUPX"`) and hands them to the interceptors under `unknownEnumNamesKey`: connect-es
 * reads JSON ignoring unknown fields, which also turns an unknown enum name into the field's zero
 * value, so the caller would be told the field is missing instead. The validation interceptor
 * answers them as field violations after the caller is authenticated. Unknown fields stay
 * ignored; other requests, bodies over `maxBytes` or without a length, and bodies that are not
 * JSON pass through untouched.
 */
export function withJsonEnumCheck(handler: UniversalHandler, maxBytes: number): UniversalHandler {
  const wrapped = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    const declared = Number(req.header.get("content-length") ?? Number.NaN);
    if (req.method !== "POST" || !CONNECT_JSON.test(req.header.get("content-type") ?? "") || !(declared <= maxBytes) || !isByteStream(req.body)) return handler(req);
    const chunks: Uint8Array[] = [];
    for await (const c of req.body) chunks.push(c);
    const bytes = Buffer.concat(chunks);
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString("utf8"));
    } catch {
      json = undefined;
    }
    const unknown: UnknownEnumName[] = [];
    walk(handler.method.input, json, [], unknown);
    if (unknown.length === 0) return handler({ ...req, body: once(bytes) });
    const contextValues = req.contextValues ?? createContextValues();
    contextValues.set(unknownEnumNamesKey, unknown);
    return handler({ ...req, body: once(bytes), contextValues });
  };
  return wrapHandler(handler, wrapped);
}

/** The request's unknown enum names, as INVALID_ARGUMENT with one field violation each (at most `max`); undefined when there are none. */
export function unknownEnumError(values: ContextValues, max: number): ConnectError | undefined {
  const unknown = values.get(unknownEnumNamesKey);
  if (unknown.length === 0) return undefined;
  const violations = create(ViolationsSchema, {
    violations: unknown.slice(0, max).map((u) => ({
      field: { elements: u.path.map((p) => create(FieldPathElementSchema, p)) },
      ruleId: "enum.known_name",
      message: `${JSON.stringify(u.value)} is not a value of ${u.enumName} (for example ${u.example})`,
    })),
  });
  const first = violations.violations[0]!;
  const more = unknown.length > 1 ? `, and ${unknown.length - 1} more` : "";
  return new ConnectError(`${unknown[0]!.path.map((p) => p.fieldName).join(".")}: ${first.message}${more}`, Code.InvalidArgument, undefined, [{ desc: ViolationsSchema, value: violations }]);
}

/** Collects enum strings naming no value, through messages, lists and maps (well-known types have JSON forms of their own and are skipped). */
function walk(desc: DescMessage, json: unknown, path: UnknownEnumName["path"], out: UnknownEnumName[]): void {
  if (typeof json !== "object" || json === null || Array.isArray(json) || desc.typeName.startsWith("google.protobuf.")) return;
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
    if (!field) continue;
    const here = [...path, { fieldName: field.name, fieldNumber: field.number }];
    const items = field.fieldKind === "list" && Array.isArray(value) ? value : field.fieldKind === "map" && isObject(value) ? Object.values(value) : [value];
    for (const item of items) check(field, item, here, out);
  }
}

function check(field: DescField, value: unknown, path: UnknownEnumName["path"], out: UnknownEnumName[]): void {
  const e = field.enum;
  if (e && typeof value === "string" && !e.values.some((v) => v.name === value)) {
    out.push({ path, value, enumName: e.typeName, example: e.values[1]?.name ?? e.values[0]!.name });
  }
  if (field.message) walk(field.message, value, path, out);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function isByteStream(body: unknown): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
