export * from "./scopes.js";
export * from "./infra.js";
