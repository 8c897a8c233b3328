/** Every variable naming a real server (tests/infra/up writes them to ~/.cache/caas-infra/env). */
export declare const SERVER_VARS: readonly string[];
/** The processes of a cluster: each service once, chat and socket twice. */
export declare const CLUSTER_LAYOUT: readonly { service: string; instanceId: string }[];
/** The real servers' variables that are set in `env`, as an environment for spawned services. */
export declare function serverEnvFrom(env?: NodeJS.ProcessEnv): Record<string, string>;
