import { create, toBinary, type DescFile, type FileRegistry, createFileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import * as v1 from "@caas/gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "@caas/gen/grpc/reflection/v1alpha/reflection_pb.js";

/** The request shape shared by reflection v1 and v1alpha (the messages are field-identical). */
type ReflectionRequest = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;

/**
 * Answers reflection requests from the descriptors compiled into this server: list_services,
 * file_by_filename, file_containing_symbol, file_containing_extension and
 * all_extension_numbers_of_type. Files come back with their transitive dependencies.
 */
export class ReflectionIndex {
  private readonly registry: FileRegistry;

  constructor(
    files: DescFile[],
    private readonly serviceNames: string[],
  ) {
    const all = new Map<string, DescFile>();
    // Dependencies first, so every import is known when a file is added.
    const visit = (f: DescFile) => {
      if (all.has(f.name)) return;
      f.dependencies.forEach(visit);
      all.set(f.name, f);
    };
    files.forEach(visit);
    this.registry = createFileRegistry(create(FileDescriptorSetSchema, { file: [...all.values()].map((f) => f.proto) }));
  }

  /** The answer for one request, as a plain init object valid for v1 and v1alpha alike. */
  answer(req: ReflectionRequest) {
    const r = req.messageRequest;
    const notFound = (what: string) => ({
      case: "errorResponse" as const,
      value: { errorCode: 5, errorMessage: `${what} not found` },
    });
    switch (r.case) {
      case "listServices":
        return {
          case: "listServicesResponse" as const,
          value: { service: this.serviceNames.map((name) => ({ name })) },
        };
      case "fileByFilename": {
        const file = this.registry.getFile(r.value);
        return file ? this.files(file) : notFound(`file ${r.value}`);
      }
      case "fileContainingSymbol": {
        const file = this.fileOfSymbol(r.value);
        return file ? this.files(file) : notFound(`symbol ${r.value}`);
      }
      case "fileContainingExtension": {
        const msg = this.registry.getMessage(r.value.containingType);
        const ext = msg ? this.registry.getExtensionFor(msg, r.value.extensionNumber) : undefined;
        return ext ? this.files(ext.file) : notFound(`extension ${r.value.containingType}(${r.value.extensionNumber})`);
      }
      case "allExtensionNumbersOfType": {
        const msg = this.registry.getMessage(r.value);
        if (!msg) return notFound(`type ${r.value}`);
        const numbers: number[] = [];
        for (const t of this.registry) {
          if (t.kind === "extension" && t.extendee.typeName === msg.typeName) numbers.push(t.number);
        }
        return {
          case: "allExtensionNumbersResponse" as const,
          value: { baseTypeName: msg.typeName, extensionNumber: numbers.sort((a, b) => a - b) },
        };
      }
      default:
        return { case: "errorResponse" as const, value: { errorCode: 12, errorMessage: "request kind not supported" } };
    }
  }

  private fileOfSymbol(symbol: string): DescFile | undefined {
    const direct = this.registry.get(symbol);
    if (direct) return direct.file;
    // Methods ("pkg.Service.Method") and enum values are not registry entries: look up the parent.
    const parent = symbol.slice(0, symbol.lastIndexOf("."));
    const owner = parent ? this.registry.get(parent) : undefined;
    if (owner?.kind === "service" && owner.methods.some((m) => `${parent}.${m.name}` === symbol)) return owner.file;
    return undefined;
  }

  private files(file: DescFile) {
    const ordered: DescFile[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      ordered.push(f);
      f.dependencies.forEach(visit);
    };
    visit(file);
    return {
      case: "fileDescriptorResponse" as const,
      value: { fileDescriptorProto: ordered.map((f) => toBinary(FileDescriptorProtoSchema, f.proto)) },
    };
  }
}

/** grpc.reflection.v1.ServerReflection over a ReflectionIndex. */
export function createReflectionV1(index: ReflectionIndex): ServiceImpl<typeof v1.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield create(v1.ServerReflectionResponseSchema, {
          validHost: req.host,
          originalRequest: req,
          messageResponse: index.answer(req),
        });
      }
    },
  };
}

/** grpc.reflection.v1alpha.ServerReflection (grpcurl falls back to it) over the same index. */
export function createReflectionV1alpha(index: ReflectionIndex): ServiceImpl<typeof v1alpha.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield create(v1alpha.ServerReflectionResponseSchema, {
          validHost: req.host,
          originalRequest: req,
          messageResponse: index.answer(req),
        });
      }
    },
  };
}
