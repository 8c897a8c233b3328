import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ServerReflection } from "@caas/gen/grpc/reflection/v1/reflection_pb.js";
import { repoRoot } from "../support/spawn-platform.js";

/** One RPC on one listener: what the fuzzer calls. */
export interface RpcTarget {
  /** The platform service whose listener serves it (gateway, auth, chat, ...). */
  endpoint: string;
  baseUrl: string;
  method: DescMethod;
  /** "/package.Service/Method" */
  path: string;
}

function* genFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* genFiles(path);
    else if (name.endsWith("_pb.ts")) yield path;
  }
}

/** Every service in the generated registry (gen/es), by type name: new protos are picked up without edits. */
export async function generatedServices(): Promise<Map<string, DescService>> {
  const services = new Map<string, DescService>();
  for (const file of genFiles(join(repoRoot, "gen/es"))) {
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      const desc = value as Partial<DescService> | undefined;
      if (desc && typeof desc === "object" && desc.kind === "service" && desc.typeName) services.set(desc.typeName, desc as DescService);
    }
  }
  return services;
}

/** The services a listener says it serves (gRPC server reflection v1, list_services). */
async function listServices(baseUrl: string): Promise<string[]> {
  const client = createClient(ServerReflection, createGrpcTransport({ baseUrl }));
  async function* one() {
    yield { messageRequest: { case: "listServices" as const, value: "" } };
  }
  for await (const res of client.serverReflectionInfo(one())) {
    if (res.messageResponse.case === "listServicesResponse") return res.messageResponse.value.service.map((s) => s.name);
  }
  return [];
}

/**
 * Every RPC every listener of the platform serves, public and internal, found by reflection and
 * described by the generated registry. Fails when a listener serves a service the registry lacks.
 */
export async function discoverTargets(endpoints: Record<string, string>): Promise<RpcTarget[]> {
  const registry = await generatedServices();
  const targets: RpcTarget[] = [];
  for (const [endpoint, baseUrl] of Object.entries(endpoints)) {
    for (const name of await listServices(baseUrl)) {
      const service = registry.get(name);
      if (!service) throw new Error(`${endpoint} serves ${name}, which gen/es does not describe`);
      for (const method of service.methods) targets.push({ endpoint, baseUrl, method, path: `/${service.typeName}/${method.name}` });
    }
  }
  return targets;
}
