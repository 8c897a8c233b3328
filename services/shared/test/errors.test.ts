import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BadRequestSchema, ResourceInfoSchema, RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError, ResourceExhaustedError, toConnectError, UnimplementedError } from "../src/errors.js";

describe("toConnectError", () => {
  it("maps domain errors to their codes", () => {
    expect(toConnectError(new NotFoundError("conversation")).code).toBe(Code.NotFound);
    expect(toConnectError(new NotFoundError("conversation")).rawMessage).toBe("conversation not found");
    expect(toConnectError(new AlreadyExistsError("dup")).code).toBe(Code.AlreadyExists);
    expect(toConnectError(new UnimplementedError("later")).code).toBe(Code.Unimplemented);
  });

  it("attaches field violations as google.rpc.BadRequest", () => {
    const err = toConnectError(new InvalidArgumentError("bad", [{ field: "text", description: "too long" }]));
    expect(err.code).toBe(Code.InvalidArgument);
    const [detail] = err.findDetails(BadRequestSchema);
    expect(detail?.fieldViolations.map((v) => [v.field, v.description])).toEqual([["text", "too long"]]);
  });

  it("attaches the retry delay as google.rpc.RetryInfo", () => {
    const err = toConnectError(new ResourceExhaustedError("slow down", 1500));
    expect(err.code).toBe(Code.ResourceExhausted);
    const [detail] = err.findDetails(RetryInfoSchema);
    expect(detail?.retryDelay?.seconds).toBe(1n);
    expect(detail?.retryDelay?.nanos).toBe(500_000_000);
  });

  it("names the resource an error is about as google.rpc.ResourceInfo", () => {
    const err = toConnectError(new NotFoundError("media m1").about("caas.media.v1.Media", "m1"));
    expect([err.code, err.rawMessage]).toEqual([Code.NotFound, "media m1 not found"]);
    expect(err.findDetails(ResourceInfoSchema).map((r) => [r.resourceType, r.resourceName])).toEqual([["caas.media.v1.Media", "m1"]]);
    expect(toConnectError(new NotFoundError("media m1")).findDetails(ResourceInfoSchema)).toEqual([]);
  });

  it("hides the message of unexpected errors", () => {
    const err = toConnectError(new Error("password=hunter2 at db.ts:12"));
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe("internal error");
    expect(err.cause).toBeInstanceOf(Error);
  });

  it("passes ConnectErrors through", () => {
    const original = new ConnectError("x", Code.Aborted);
    expect(toConnectError(original)).toBe(original);
  });
});
