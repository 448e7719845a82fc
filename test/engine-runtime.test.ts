/**
 * What a real Dagger engine (v0.21.9) asks of the module beyond what type-checking against the
 * npm SDK sees. Each rule below was found by running the module on an engine: without it,
 * `dagger call` fails there (docs/engine-run.md has the runs).
 */
import { readFileSync } from "node:fs"

import { beforeAll, describe, expect, test } from "vitest"

import { dag, type SecretID } from "@dagger.io/dagger"

import { MeetinityRelease } from "../src/index.js"
import { introspectModule, type FunctionInfo } from "./support/introspection.js"

/**
 * The TypeScript version the engine's TypeScript runtime treats as its own: when a module's
 * package.json says exactly this, the runtime mounts its bundled TypeScript (6.0.3 in v0.21.9)
 * read-only at node_modules/typescript and then runs `npm install --omit=dev`, which fails with
 * EBUSY trying to replace it with the lockfile's version.
 */
const RUNTIME_TYPESCRIPT = "5.9.3"

/** `dagger call`'s own flags (v0.21.9 `dagger call --help`): an argument with one of these names makes the call fail to parse. */
const DAGGER_CALL_FLAGS = [
  "allow-llm",
  "eager-runtime",
  "json",
  "mod",
  "no-mod",
  "output",
  "help",
  "auto-apply",
  "debug",
  "interactive",
  "interactive-command",
  "lock",
  "no-exit",
  "progress",
  "quiet",
  "silent",
  "verbose",
  "web",
  "x-release",
]

const kebab = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()

describe("what the engine's TypeScript runtime needs", () => {
  test(`typescript is not declared as exactly ${RUNTIME_TYPESCRIPT} beside other dependencies, and the lockfile still installs ${RUNTIME_TYPESCRIPT}`, () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { dependencies: Record<string, string> }
    const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as {
      packages: Record<string, { version?: string; dependencies?: Record<string, string> }>
    }
    expect(Object.keys(pkg.dependencies).filter((name) => name !== "typescript").length).toBeGreaterThan(0)
    expect(pkg.dependencies.typescript).toBeDefined()
    expect(pkg.dependencies.typescript).not.toBe(RUNTIME_TYPESCRIPT)
    expect(lock.packages[""]!.dependencies).toEqual(pkg.dependencies)
    expect(lock.packages["node_modules/typescript"]!.version).toBe(RUNTIME_TYPESCRIPT)
  })
})

describe("what `dagger call` needs", () => {
  let functions: Record<string, FunctionInfo>
  beforeAll(async () => {
    functions = (await introspectModule()).functions
  }, 120_000)

  test("no argument's flag is one of dagger call's own flags", () => {
    const clashes = Object.values(functions).flatMap((fn) =>
      Object.keys(fn.arguments)
        .filter((arg) => DAGGER_CALL_FLAGS.includes(kebab(arg)))
        .map((arg) => `${fn.name} --${kebab(arg)}`),
    )
    expect(Object.keys(functions).length).toBeGreaterThan(0)
    expect(clashes).toEqual([])
  })

  test("retain's report format (not `--json`) is table or json, checked before the token is read", async () => {
    await expect(
      new MeetinityRelease().retain(
        "meetinity",
        dag.loadSecretFromID("SecretID-unused" as SecretID),
        "api-gateway",
        30,
        true,
        1000,
        "https://api.github.com",
        "ghcr.io",
        "yaml",
      ),
    ).rejects.toThrow('format "yaml" is not a report format: expected table or json')
  })
})
