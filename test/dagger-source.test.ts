/**
 * dagger.json's `include`: the module's source (what the engine uploads, and what reloads the
 * module when it changes) is the module's code and nothing else.
 *
 * With `source: "."`, the v0.21 engine loads the module's context directory with the include list
 * `["./dagger.json", "*", ...include]` (core/schema/modulesource.go, loadModuleSourceContext),
 * matched by moby/patternmatcher: a path is in when the last pattern that matches it or one of its
 * parent directories is not a `!` pattern. `matches` below is that rule for the patterns it accepts
 * (`*`, and paths without wildcards, each optionally after `!`); it refuses any other pattern
 * rather than guess. Its table rows are patternmatcher v0.6.1's own answers.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, posix, relative, resolve, sep } from "node:path"

import ts from "typescript"
import { describe, expect, test } from "vitest"

const root = resolve(import.meta.dirname, "..")
const config = JSON.parse(readFileSync(join(root, "dagger.json"), "utf8")) as { source?: string; include?: string[] }
const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dagger?: { runtime?: string } }

function matches(patterns: string[], path: string): boolean {
  let included = false
  for (const raw of patterns) {
    const exclusion = raw.startsWith("!")
    const pattern = posix.normalize(exclusion ? raw.slice(1) : raw)
    if (pattern !== "*" && /[*?[\]\\]/.test(pattern))
      throw new Error(
        `include pattern ${JSON.stringify(raw)} has a wildcard this test does not model: extend matches() first`,
      )
    // "*" matches any one path segment, so every path (through its top-level parent) matches it.
    const hit = pattern === "*" || path === pattern || path.startsWith(`${pattern}/`)
    if (hit) included = !exclusion
  }
  return included
}

/** The engine's include list for this module's context directory. */
const engineIncludes = () => ["./dagger.json", config.source === "." ? "*" : config.source!, ...(config.include ?? [])]

/** Every file of the repository the engine would upload as the module's source. */
function moduleSourceFiles(dir = root): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    const rel = relative(root, path).split(sep).join("/")
    if (statSync(path).isDirectory()) {
      // Walk a directory the engine would walk: one that is in, or holds a path a later pattern names.
      const named = engineIncludes().some((p) => !p.startsWith("!") && p.startsWith(`${rel}/`))
      return matches(engineIncludes(), rel) || named ? moduleSourceFiles(path) : []
    }
    return matches(engineIncludes(), rel) ? [rel] : []
  })
}

/** src/'s files and, transitively, every file they import by a relative path. */
function whatSrcNeeds(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((e) => (statSync(join(dir, e)).isDirectory() ? walk(join(dir, e)) : [join(dir, e)]))
  const seen = new Set<string>()
  const queue = walk(join(root, "src"))
  while (queue.length > 0) {
    const file = queue.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    if (!/\.m?ts$/.test(file)) continue
    for (const { fileName } of ts.preProcessFile(readFileSync(file, "utf8")).importedFiles) {
      if (!fileName.startsWith(".")) continue
      const target = resolve(dirname(file), fileName)
      const candidates = [
        target,
        target.replace(/\.js$/, ".ts"),
        target.replace(/\.mjs$/, ".mts"),
        `${target}.ts`,
        join(target, "index.ts"),
      ]
      const found = candidates.find((c) => existsSync(c) && statSync(c).isFile())
      if (!found) throw new Error(`${relative(root, file)} imports ${fileName}, which is not a file`)
      queue.push(found)
    }
  }
  return [...seen].map((f) => relative(root, f).split(sep).join("/"))
}

describe("patternmatcher's rule, as modelled here", () => {
  test.each([
    { patterns: ["./dagger.json", "*", "!*", "dagger.json", "src"], path: "dagger.json", in: true },
    { patterns: ["./dagger.json", "*", "!*", "dagger.json", "src"], path: "src/retention/x.ts", in: true },
    { patterns: ["./dagger.json", "*", "!*", "dagger.json", "src"], path: "srcx/a.ts", in: false },
    { patterns: ["./dagger.json", "*", "!*", "dagger.json", "src"], path: ".github/workflows/ci.yml", in: false },
    { patterns: ["./dagger.json", "*", "!*", "dagger.json", "src"], path: "README.md", in: false },
    { patterns: ["./dagger.json", "*", "!examples", "!.ci"], path: "examples/a/b", in: false },
    { patterns: ["./dagger.json", "*", "!examples", "!.ci"], path: "ci/x.mjs", in: true },
    { patterns: ["./dagger.json", "*"], path: ".x/y", in: true },
  ])("$patterns: $path is in: $in", ({ patterns, path, in: expected }) => {
    expect(matches(patterns, path)).toBe(expected)
  })

  test("a wildcard it does not model is refused, not guessed", () => {
    expect(() => matches(["*", "!**/*.md"], "README.md")).toThrow(/wildcard this test does not model/)
  })
})

describe("dagger.json", () => {
  test('keeps source "." (the module is the repository root)', () => {
    expect(config.source).toBe(".")
  })

  test("the module's source is dagger.json, package.json, the lock file, tsconfig.json and what src/ needs, nothing else", () => {
    // Bun installs from its own lock file: the runtime in package.json decides which one the engine needs.
    const lockFile = packageJson.dagger?.runtime === "bun" ? "bun.lock" : "package-lock.json"
    const needed = ["dagger.json", "package.json", lockFile, "tsconfig.json", ...whatSrcNeeds()].sort()
    for (const file of needed) expect(existsSync(join(root, file)), file).toBe(true)
    expect(moduleSourceFiles().sort()).toEqual(needed)
  })

  // node_modules and sdk/ (generated) are .gitignored too, which the engine also applies; the include keeps them out by itself.
  test.each([
    "examples",
    "test",
    "docs",
    "ci",
    ".ci",
    ".github",
    "README.md",
    "vitest.config.ts",
    "node_modules",
    "sdk",
  ])("keeps %s out of the module's source", (path) => {
    expect(matches(engineIncludes(), path)).toBe(false)
    expect(moduleSourceFiles().filter((f) => f === path || f.startsWith(`${path}/`))).toEqual([])
  })
})
