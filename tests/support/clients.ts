import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { repoRoot } from "./spawn-platform.js";

export const run = promisify(execFile);

/** The four protocol/HTTP-version pairs every service must answer on its one port. */
export function allTransports(baseUrl: string, interceptors: Interceptor[] = []): Record<string, Transport> {
  return {
    "connect over HTTP/1.1": createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors }),
    "gRPC-web over HTTP/1.1": createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors }),
    "connect over HTTP/2": createConnectTransport({ baseUrl, httpVersion: "2", interceptors }),
    "gRPC over HTTP/2": createGrpcTransport({ baseUrl, interceptors }),
  };
}

/** `buf` from node_modules, run with arguments; returns stdout. */
export async function bufCli(args: string[]): Promise<string> {
  const { stdout } = await run(join(repoRoot, "node_modules/.bin/buf"), args, { cwd: repoRoot, timeout: 60_000 });
  return stdout;
}

/**
 * grpcurl, from CAAS_GRPCURL, the infra cache (tests/infra/up installs it) or PATH. Undefined when
 * absent; with CAAS_REQUIRE_INFRA=1 (CI) absence is an error, never a skip.
 */
export function grpcurlPath(): string | undefined {
  const candidates = [
    process.env.CAAS_GRPCURL,
    join(process.env.CAAS_INFRA_HOME ?? join(homedir(), ".cache/caas-infra"), "bin/grpcurl"),
    ...(process.env.PATH ?? "").split(":").map((d) => join(d, "grpcurl")),
  ];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found && process.env.CAAS_REQUIRE_INFRA === "1") {
    throw new Error("grpcurl is required (CAAS_REQUIRE_INFRA=1) but was not found: run tests/infra/up grpcurl");
  }
  return found;
}

/** A unary call through @grpc/grpc-js, the independent native client, with response metadata. */
export function grpcJsUnary<I extends DescMessage, O extends DescMessage>(
  address: string,
  path: string,
  input: I,
  output: O,
  request: MessageShape<I>,
  metadata: Record<string, string> = {},
): Promise<{ response: MessageShape<O>; headers: grpc.Metadata }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve, reject) => {
    let headers = new grpc.Metadata();
    const call = client.makeUnaryRequest(
      path,
      (m: MessageShape<I>) => Buffer.from(toBinary(input, m)),
      (b: Buffer) => fromBinary(output, b),
      request,
      md,
      { deadline: Date.now() + 10_000 },
      (err, response) => {
        client.close();
        if (err || !response) reject(err ?? new Error("no response"));
        else resolve({ response, headers });
      },
    );
    call.on("metadata", (m) => (headers = m));
  });
}
