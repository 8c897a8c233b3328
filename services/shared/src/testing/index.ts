export * from "./scopes.js";
export * from "./infra.js";
export * from "./two-instances.js";
