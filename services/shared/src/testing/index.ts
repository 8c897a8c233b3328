export * from "./scopes.js";
export * from "./infra.js";
export * from "./two-instances.js";
export * from "./contract-harness.js";
