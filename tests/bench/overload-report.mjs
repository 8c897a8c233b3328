// What the overload bench (overload.bench.mjs) reports besides its per-second table: where each
// attempt's time went between the client, the gateway and chat, and who used the CPU in each phase.
import { readdirSync, readFileSync } from "node:fs";
import { quantiles } from "./embedded-platform.mjs";

/**
 * Per phase (by when the client started the attempt): for attempts both the gateway and chat
 * logged and the gateway answered OK, p50/p99 of each leg: client start to the gateway's handler start ("to gateway"), the
 * gateway's start to chat's ("gateway to chat"), chat's handler time, chat's end to the gateway's
 * ("chat to gateway") and the gateway's end to the client's ("to client"); and how many attempts
 * the gateway logged (by code) or never logged (ended by the client, logged at debug only).
 */
export function attemptLegs(platform, phaseStarts, attemptTimes) {
  const byId = (ids) => {
    const m = new Map();
    for (const l of ids.flatMap((i) => platform.logOf(i))) {
      if ((l.msg !== "rpc" && l.msg !== "rpc failed") || l.rpc !== "caas.chat.v1.ChatService/SendMessage" || !l.correlationId) continue;
      const end = typeof l.time === "number" ? l.time : Date.parse(String(l.time));
      m.set(l.correlationId, { start: end - l.ms, end, code: l.code });
    }
    return m;
  };
  const gateway = byId(["gateway-1"]);
  const chat = byId(["chat-1", "chat-2"]);
  const phaseOf = (t) => {
    let p = "calibrate";
    for (const [name, start] of phaseStarts) if (t >= start) p = name;
    return p;
  };
  const out = {};
  for (const [id, c] of attemptTimes) {
    const b = (out[phaseOf(c.start)] ??= { gatewayCodes: {}, legs: { "to gateway": [], "gateway to chat": [], chat: [], "chat to gateway": [], "to client": [] } });
    const g = gateway.get(id);
    b.gatewayCodes[g ? g.code : "not logged"] = (b.gatewayCodes[g?.code ?? "not logged"] ?? 0) + 1;
    const h = chat.get(id);
    if (!g || !h || !c.end || g.code !== "OK") continue;
    b.legs["to gateway"].push(g.start - c.start);
    b.legs["gateway to chat"].push(h.start - g.start);
    b.legs.chat.push(h.end - h.start);
    b.legs["chat to gateway"].push(g.end - h.end);
    b.legs["to client"].push(c.end - g.end);
  }
  for (const b of Object.values(out)) b.legs = Object.fromEntries(Object.entries(b.legs).map(([k, v]) => [k, quantiles(v)]));
  return out;
}

/** CPU seconds so far: each service instance, this load generator, and each core's busy time (/proc/stat). */
export function cpuNow(platform) {
  const { user, system } = process.cpuUsage();
  const cores = {};
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const [usr, nice, sys, idle, iowait, irq, softirq, steal] = m[2].trim().split(/\s+/).map(Number);
    cores[`core ${m[1]}`] = (usr + nice + sys + irq + softirq + steal) / 100;
    void idle;
    void iowait;
  }
  return { ...platform.cpuSeconds(), "load generator": (user + system) / 1e6, ...engineCpuSeconds(), ...cores };
}

/** CPU seconds of the engines on this machine (every process of each), by engine. */
function engineCpuSeconds() {
  const engines = {
    ferretdb: /bin\/ferretdb/,
    postgres: /postgres/,
    kafka: /kafka\.Kafka/,
    elasticsearch: /elasticsearch/,
    "schema registry": /apicurio|quarkus/,
    redis: /redis-server/,
    s3: /versitygw/,
  };
  const out = Object.fromEntries(Object.keys(engines).map((k) => [k, 0]));
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let cmd;
    let stat;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    const engine = Object.keys(engines).find((k) => engines[k].test(cmd));
    if (!engine) continue;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out[engine] += (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return out;
}

/** Per phase, each CPU counter's use as a percentage of one core over the phase's wall time. */
export function cpuByPhase(marks) {
  const out = {};
  for (let i = 0; i + 1 < marks.length; i++) {
    const [phase, t, from] = marks[i];
    const [, t2, to] = marks[i + 1];
    const wall = (t2 - t) / 1000;
    out[phase] = Object.fromEntries(Object.keys(to).map((k) => [k, Math.round((100 * ((to[k] ?? 0) - (from[k] ?? 0))) / wall)]));
  }
  return out;
}
