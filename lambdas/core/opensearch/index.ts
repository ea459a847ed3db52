export * from "./alerts-template.js";
export * from "./audit-template.js";
export * from "./bootstrap.js";
export * from "./ism-policy.js";
export * from "./mappings.js";
export * from "./security.js";
export * from "./settings.js";
