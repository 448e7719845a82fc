// The linter: a few type-aware rules that catch real bugs, nothing about style (Prettier formats).
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["node_modules/", ".cache/", "sdk/", "ci/kube/", "ci/etcd/", "ci/zot/", "examples/"] },
  {
    files: ["src/**/*.ts", "test/**/*.ts"],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A promise nobody awaits loses its error and its ordering.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      // A value computed and never used is a bug or dead code.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      "no-unused-expressions": "off",
      "@typescript-eslint/no-unused-expressions": "error",
      // No `any` leaks: an untyped value must be checked before it is used.
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unsafe-assignment": "error",
      "@typescript-eslint/no-unsafe-member-access": "error",
      "@typescript-eslint/no-unsafe-call": "error",
      "@typescript-eslint/no-unsafe-return": "error",
      "@typescript-eslint/no-unsafe-argument": "error",
    },
  },
  {
    // vitest's asymmetric matchers (expect.stringMatching, expect.any) are typed `any` by vitest itself.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-unsafe-assignment": "off", "@typescript-eslint/no-unsafe-return": "off" },
  },
)
