/**
 * Import-graph rules (npm run deps). Workspace packages resolve through their "source" export
 * condition, so `@caas/<svc>/...` imports are checked against the TypeScript file they name.
 * @type {import("dependency-cruiser").IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Import circles make load order matter and hide which module owns what.",
      from: {},
      to: { circular: true },
    },
    {
      name: "kit-imports-no-service",
      severity: "error",
      comment: "services/shared is the kit every service builds on: it (and its tests) import no service.",
      from: { path: "^services/shared/" },
      to: { path: "^services/(?!shared/)[^/]+/" },
    },
    {
      name: "no-service-imports-another-service",
      severity: "error",
      comment: "A service reaches another over the mesh, never through its code. Only the platform imports the composition roots (src/index.ts).",
      from: { path: "^services/((?!shared/|platform/)[^/]+)/src/" },
      to: { path: "^services/(?!shared/)[^/]+/", pathNot: "^services/$1/" },
    },
    {
      name: "platform-imports-composition-roots-only",
      severity: "error",
      comment: "The embedded platform starts services through createXService, nothing deeper; main.ts seeds the demo through @caas/gateway/demo first.",
      from: { path: "^services/platform/src/" },
      to: { path: "^services/(?!shared/|platform/)[^/]+/src/", pathNot: ["^services/[^/]+/src/index\\.ts$", "^services/gateway/src/demo/demo-setup\\.ts$"] },
    },
    {
      name: "tests-use-testing-subpaths",
      severity: "error",
      comment: "A service's tests, and the cross-service tests, use another service's ./testing subpath (or its composition root), never its src.",
      from: { path: "^(services/([^/]+)/test/|tests/)" },
      to: {
        path: "^services/(?!shared/)[^/]+/src/",
        pathNot: ["^services/$2/src/", "^services/[^/]+/src/testing/", "^services/[^/]+/src/index\\.ts$"],
      },
    },
  ],
  options: {
    doNotFollow: { path: ["node_modules", "^gen/"] },
    exclude: { path: ["/dist/", "^gen/"] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.test.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["source", "import", "default"],
      extensions: [".ts", ".js"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
