import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exitWithParent, repoRoot, servicePid } from "../support/spawn-platform.js";

/** A Kafka broker of the soak's own, which it may kill without touching anyone else's runs. */
export interface PrivateKafka {
  /** `host:port` for CAAS_KAFKA_BROKERS. */
  brokers: string;
  /** SIGKILLs the broker; resolves once it has exited. */
  kill(): Promise<void>;
  /** Starts the broker again on the same data (log recovery after the kill); resolves once it serves. */
  start(): Promise<void>;
  /** The broker's pid while it runs. */
  pid(): number | undefined;
  /** Its log file. */
  logFile: string;
  /** Stops it (SIGTERM) and removes its data, and its logs unless `keepLogs`. */
  stop(opts: { keepLogs: boolean }): Promise<void>;
}

/** A port below the ephemeral range that nothing listens on now (as spawn-cluster's). */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 21000 + Math.floor(Math.random() * 6000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port in 21000-26999 for the soak's Kafka broker");
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });

/**
 * Starts a single-node KRaft broker (broker and controller, as tests/infra runs the shared one:
 * same jars from `$CAAS_INFRA_HOME/kafka-<version>/lib`, same settings) on ports and a data
 * directory of its own. The shared broker of tests/infra serves every test run on the machine,
 * so a soak that kills Kafka needs its own; the schema registry stays shared (it keeps no state
 * of the broker's).
 */
export async function startPrivateKafka(): Promise<PrivateKafka> {
  const home = process.env.CAAS_INFRA_HOME ?? join(process.env.HOME ?? "", ".cache/caas-infra");
  const version = /^KAFKA_VERSION=(\S+)/m.exec(readFileSync(join(repoRoot, "tests/infra/versions.env"), "utf8"))?.[1];
  const lib = join(home, `kafka-${version}`, "lib");
  if (!version || !existsSync(lib)) throw new Error(`no Kafka jars at ${lib}: run tests/infra/up kafka`);
  const dir = mkdtempSync(join(tmpdir(), "caas-soak-kafka-"));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const logFile = join(dir, "kafka.log");
  mkdirSync(join(dir, "data"));
  writeFileSync(
    join(dir, "server.properties"),
    [
      "process.roles=broker,controller",
      "node.id=1",
      `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      "controller.listener.names=CONTROLLER",
      "inter.broker.listener.name=PLAINTEXT",
      "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
      `log.dirs=${join(dir, "data")}`,
      "num.partitions=1",
      "default.replication.factor=1",
      "min.insync.replicas=1",
      "offsets.topic.replication.factor=1",
      "offsets.topic.num.partitions=1",
      "transaction.state.log.replication.factor=1",
      "transaction.state.log.min.isr=1",
      "share.coordinator.state.topic.replication.factor=1",
      "share.coordinator.state.topic.min.isr=1",
      "group.initial.rebalance.delay.ms=0",
      "auto.create.topics.enable=true",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "log4j2.properties"),
    [
      "status = warn",
      "appender.file.type = File",
      "appender.file.name = FILE",
      `appender.file.fileName = ${logFile}`,
      "appender.file.append = true",
      "appender.file.layout.type = PatternLayout",
      "appender.file.layout.pattern = [%d] %p %m (%c)%n",
      "rootLogger.level = INFO",
      "rootLogger.appenderRef.file.ref = FILE",
      "",
    ].join("\n"),
  );
  const java = ["-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true", "-cp", `${lib}/*`];
  const format = spawnSync("java", [...java, "kafka.tools.StorageTool", "format", "--standalone", "-t", randomBytes(16).toString("base64url"), "-c", join(dir, "server.properties")], {
    encoding: "utf8",
  });
  if (format.status !== 0) throw new Error(`Kafka storage format failed: ${format.stderr || format.stdout}`);

  let child: ChildProcess | undefined;
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const start = async () => {
    const before = existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").length : 0;
    const out = openSync(join(dir, "stdout.log"), "a");
    child = spawn(
      process.execPath,
      [exitWithParent, "java", ...java, `-Dlog4j2.configurationFile=${join(dir, "log4j2.properties")}`, `-Dkafka.logs.dir=${dir}`, "kafka.Kafka", join(dir, "server.properties")],
      {
        stdio: ["pipe", out, out],
      },
    );
    const until = Date.now() + 180_000;
    for (;;) {
      const started =
        existsSync(logFile) &&
        readFileSync(logFile, "utf8")
          .split("\n")
          .slice(before)
          .some((l) => l.includes("Kafka Server started"));
      if (started && (await portOpen(port))) return;
      if (!running()) throw new Error(`the soak's Kafka broker exited at start (${join(dir, "stdout.log")})`);
      if (Date.now() > until) throw new Error(`the soak's Kafka broker did not start within 180 s (${logFile})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await start();
  return {
    brokers: `127.0.0.1:${port}`,
    logFile,
    start,
    pid: () => {
      try {
        return running() ? servicePid(child!) : undefined;
      } catch {
        return undefined;
      }
    },
    async kill() {
      if (!running()) throw new Error("the soak's Kafka broker is not running");
      const exited = new Promise((r) => child!.once("exit", r));
      process.kill(servicePid(child!), "SIGKILL");
      await exited;
    },
    async stop({ keepLogs }) {
      if (running()) {
        const exited = new Promise((r) => child!.once("exit", r));
        child!.kill("SIGTERM");
        const timer = setTimeout(() => {
          try {
            process.kill(servicePid(child!), "SIGKILL");
          } catch {
            // already gone
          }
        }, 60_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(keepLogs ? join(dir, "data") : dir, { recursive: true, force: true });
    },
  };
}
