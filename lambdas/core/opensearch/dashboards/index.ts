export * from "./audit-dashboard.js";
export * from "./import-file.js";
export * from "./import-response.js";
export * from "./lucene.js";
export * from "./saved-objects.js";
export * from "./visualizations.js";
