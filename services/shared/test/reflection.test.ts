import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { PlatformService } from "@caas/gen/caas/gateway/v1/gateway_service_pb.js";
import { Health } from "@caas/gen/grpc/health/v1/health_pb.js";
import { ServerReflectionRequestSchema } from "@caas/gen/grpc/reflection/v1/reflection_pb.js";
import { ReflectionIndex } from "../src/server/reflection.js";

const index = new ReflectionIndex([PlatformService.file, Health.file], [PlatformService.typeName, Health.typeName]);
const ask = (messageRequest: Parameters<typeof create<typeof ServerReflectionRequestSchema>>[1] extends infer T ? (T extends { messageRequest?: infer M } ? M : never) : never) =>
  index.answer(create(ServerReflectionRequestSchema, { messageRequest }));

function fileNames(answer: ReturnType<typeof ask>): string[] {
  if (answer.case !== "fileDescriptorResponse") throw new Error(`unexpected ${answer.case}`);
  return answer.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);
}

describe("ReflectionIndex", () => {
  it("lists the services", () => {
    const a = ask({ case: "listServices", value: "" });
    expect(a.case === "listServicesResponse" && a.value.service.map((s) => s.name)).toEqual(["caas.gateway.v1.PlatformService", "grpc.health.v1.Health"]);
  });

  it("finds the file of a service, a method and a nested message, with dependencies", () => {
    for (const symbol of ["caas.gateway.v1.PlatformService", "caas.gateway.v1.PlatformService.GetPlatformStatus", "caas.gateway.v1.GetPlatformStatusResponse"]) {
      const names = fileNames(ask({ case: "fileContainingSymbol", value: symbol }));
      expect(names[0]).toBe("caas/gateway/v1/gateway_service.proto");
      expect(names).toContain("caas/gateway/v1/platform.proto");
      expect(names).toContain("google/protobuf/timestamp.proto");
    }
    expect(fileNames(ask({ case: "fileByFilename", value: "caas/gateway/v1/platform.proto" }))[0]).toBe("caas/gateway/v1/platform.proto");
  });

  it("answers NOT_FOUND (5) for unknown symbols and files", () => {
    for (const a of [
      ask({ case: "fileContainingSymbol", value: "caas.nope.v1.Nope" }),
      ask({ case: "fileByFilename", value: "nope.proto" }),
      ask({ case: "fileContainingSymbol", value: "caas.gateway.v1.PlatformService.NoSuchMethod" }),
    ]) {
      expect(a.case).toBe("errorResponse");
      expect(a.case === "errorResponse" && a.value.errorCode).toBe(5);
    }
  });
});
