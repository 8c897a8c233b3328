// ESLint flat config: typescript-eslint's recommended rules with type information (the tree is
// strict TypeScript already; the type-checked rules add floating-promise and unsafe-any checks).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "gen/**", "sdks/ts/src/gen/**", "vendor/**", "node_modules/**", "**/*.cjs", "services/socket/examples/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // One program over sources and tests, resolving workspace packages to their sources (no build needed).
        project: ["./tsconfig.lint.json", "./sdks/ts/tsconfig.json", "./web/demo/tsconfig.lint.json"],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Ports are Promise-returning interfaces; adapters that answer synchronously stay `async` so a
      // thrown check becomes a rejection like every other adapter's (about 220 such methods).
      "@typescript-eslint/require-await": "off",
      // `_`-prefixed names are deliberately unused (ignored arguments, skipped iteration values);
      // `const { drop, ...rest } = x` is how a field is left out of a copy.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true }],
      // Input checks refuse control characters on purpose (names, ids, indexed text, highlight marks).
      "no-control-regex": "off",
      // A caught error (typed unknown) is passed through as the rejection reason, not wrapped.
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingUnknown: true }],
    },
  },
  {
    files: ["**/test/**/*.ts", "tests/**/*.ts"],
    rules: {
      // vitest types its asymmetric matchers (expect.stringContaining, expect.any, ...) as `any`.
      "@typescript-eslint/no-unsafe-assignment": "off",
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
    // Node scripts: their globals (process, console, URL) are not declared to ESLint.
    rules: { ...tseslint.configs.disableTypeChecked.rules, "no-undef": "off" },
  },
);
