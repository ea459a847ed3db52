export * from "./build.js";
export * from "./policies.js";
export * from "./render.js";
