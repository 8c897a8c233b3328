/** How long and how hard a soak runs, and how often each fault kind strikes. */
export interface SoakProfile {
  name: string;
  mode: "embedded" | "cluster";
  durationS: number;
  /** Sends started per second (open loop). */
  rate: number;
  /** Kills of each fault kind. */
  perKind: number;
  /** Quiet time before the first fault and after the last. */
  warmupS: number;
  settleS: number;
}

/**
 * The profile named by CAAS_SOAK_PROFILE (short: 2-3 minutes, each fault kind once, for CI; long:
 * 30 minutes at 100 sends/s, each kind three times) in the mode of CAAS_SOAK_MODE; CAAS_SOAK_DURATION_S,
 * CAAS_SOAK_RATE and CAAS_SOAK_FAULTS_PER_KIND override the profile's figures.
 */
export function soakProfile(env: NodeJS.ProcessEnv): SoakProfile {
  const mode = env.CAAS_SOAK_MODE ?? "embedded";
  if (mode !== "embedded" && mode !== "cluster") throw new Error(`CAAS_SOAK_MODE must be embedded or cluster, not ${mode}`);
  const name = env.CAAS_SOAK_PROFILE ?? "short";
  const base: Record<string, Omit<SoakProfile, "name" | "mode">> = {
    short: mode === "cluster" ? { durationS: 150, rate: 8, perKind: 1, warmupS: 10, settleS: 15 } : { durationS: 90, rate: 10, perKind: 2, warmupS: 10, settleS: 15 },
    long: { durationS: 1800, rate: 100, perKind: 3, warmupS: 30, settleS: 60 },
  };
  const p = base[name];
  if (!p) throw new Error(`CAAS_SOAK_PROFILE must be one of ${Object.keys(base).join(", ")}, not ${name}`);
  const num = (v: string | undefined, d: number) => (v === undefined || v === "" ? d : Number(v));
  return { name, mode, ...p, durationS: num(env.CAAS_SOAK_DURATION_S, p.durationS), rate: num(env.CAAS_SOAK_RATE, p.rate), perKind: num(env.CAAS_SOAK_FAULTS_PER_KIND, p.perKind) };
}
