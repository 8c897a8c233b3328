export * from "./policy.js";
export * from "./enforce.js";
