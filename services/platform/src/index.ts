// The platform composes every service (platform.ts): these are its entry points.
export { SERVICE_FACTORIES, startEmbeddedPlatform, type EmbeddedOptions, type EmbeddedPlatform } from "./platform.js";
