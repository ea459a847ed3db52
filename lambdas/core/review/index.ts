export * from "./build.js";
export * from "./relevant.js";
export * from "./render.js";
export * from "./scheduled.js";
