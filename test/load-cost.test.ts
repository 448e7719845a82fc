/**
 * What every `dagger call` pays to load the module (issue 16): the TypeScript program the v0.21
 * SDK builds per call (ci/bench-load.mjs, `npm run bench:load`), and what `npm ci --omit=dev`
 * installs.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join, relative, resolve, sep } from "node:path"

import ts from "typescript"
import { afterAll, describe, expect, test } from "vitest"

// @ts-expect-error ci/ holds plain ES modules without type declarations
import * as bench from "../ci/bench-load.mjs"

interface Measured {
  files: number
  bytes: number
  packages: Record<string, { files: number; bytes: number }>
}
const { EMPTY_INDEX_TS, GOAL, entrypointFiles, layOutModule, measure, octokitTypePackages, packageOf, prepareModules } =
  bench as {
    EMPTY_INDEX_TS: string
    GOAL: number
    entrypointFiles: (dir: string) => string[]
    layOutModule: (dir: string, opts: { indexTs?: string; src?: string; sdkDist: string }) => void
    measure: (dir: string, typescript: typeof ts, opts?: { check?: boolean }) => Measured
    octokitTypePackages: (result: Measured) => string[]
    packageOf: (file: string, moduleDir: string) => string
    prepareModules: (work: string) => { moduleDir: string; emptyDir: string; typescriptPath: string }
  }

const root = resolve(import.meta.dirname, "..")
const sdkDist = resolve(root, "node_modules/@dagger.io/dagger/dist/src")
const work = mkdtempSync(join(tmpdir(), "load-cost-test-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe("what the module installs", () => {
  test("one copy of each Octokit type package in package-lock.json's dependencies (devDependencies aside)", () => {
    const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean; version: string }>
    }
    for (const name of ["@octokit/types", "@octokit/openapi-types"]) {
      const copies = Object.entries(lock.packages).filter(
        ([path, p]) => path.endsWith(`node_modules/${name}`) && !p.dev,
      )
      expect(copies.map(([path, p]) => `${path}@${p.version}`)).toHaveLength(1)
    }
    for (const name of ["@octokit/rest", "@octokit/plugin-retry", "@octokit/plugin-throttling"])
      expect(lock.packages[`node_modules/${name}`]?.dev).toBeUndefined()
  })
})

describe("bench:load's model of the SDK's per-call program", () => {
  test.each([
    { file: "node_modules/@octokit/openapi-types/types.d.ts", in: "@octokit/openapi-types", version: true },
    {
      file: "node_modules/@octokit/rest/node_modules/@octokit/types/dist-types/index.d.ts",
      in: "@octokit/types",
      version: false,
    },
    { file: "node_modules/typescript/lib/lib.es5.d.ts", in: "(TypeScript lib)", version: false },
    { file: "node_modules/@dagger.io/dagger/core/index.d.ts", in: "(Dagger SDK)", version: false },
    { file: "sdk/client.gen.ts", in: "(Dagger SDK)", version: false },
    { file: "src/retention/plan.ts", in: "(module source)", version: false },
  ])("$file belongs to $in", ({ file, in: name, version }) => {
    // Versions come from the package's package.json when it is there (here: the repository's own node_modules).
    const got = packageOf(join(root, file), root)
    if (version) expect(got).toMatch(new RegExp(`^${name}@\\d+\\.\\d+\\.\\d+$`))
    else expect(got).toBe(name)
  })

  test("the empty module: the entrypoint's root files are src/'s .ts files and sdk/client.gen.ts", () => {
    const dir = join(work, "empty-layout")
    layOutModule(dir, { indexTs: EMPTY_INDEX_TS, sdkDist })
    const files = entrypointFiles(dir).map((f) => relative(dir, f).split(sep).join("/"))
    expect(files.sort()).toEqual(["sdk/client.gen.ts", "src/__dagger.entrypoint.ts", "src/index.ts"])
  })

  test("no @types from wherever the measuring process runs: only the module's own directory and TypeScript's lib", () => {
    const dir = join(work, "empty-types")
    layOutModule(dir, { indexTs: EMPTY_INDEX_TS, sdkDist })
    // This process runs in the repository, whose node_modules/@types holds @types/node.
    expect(process.cwd()).toBe(root)
    const result = measure(dir, ts, { check: false })
    expect(Object.keys(result.packages).sort()).toEqual(["(Dagger SDK)", "(TypeScript lib)", "(module source)"])
  })
})

describe("the SDK's per-call program for this module", () => {
  test(`is at most 3.5x an empty module's, with one copy of each Octokit type package`, () => {
    const { moduleDir, emptyDir, typescriptPath } = prepareModules(join(work, "bench"))
    // The TypeScript the module installs (the runtime's), not the repository's.
    const typescript = createRequire(import.meta.url)(typescriptPath) as typeof ts
    const mod = measure(moduleDir, typescript, { check: false })
    const empty = measure(emptyDir, typescript, { check: false })
    expect(GOAL).toBe(3.5)
    expect(
      octokitTypePackages(mod)
        .map((p) => p.replace(/@[^@]+$/, ""))
        .sort(),
    ).toEqual(["@octokit/openapi-types", "@octokit/types"])
    expect(mod.bytes / empty.bytes).toBeLessThanOrEqual(GOAL)
  }, 300_000)
})
