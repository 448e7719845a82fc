/**
 * On a real engine the module does not load @dagger.io/dagger from npm: the TypeScript runtime
 * generates its own `@dagger.io/dagger` (the sdk/ directory) whose index exports only the
 * decorators and helpers below plus the generated client (`export * from "./client.gen.js"`),
 * as dagger v0.21's runtime writes it (sdk/typescript/runtime/tsutils/module/index.ts in the
 * dagger/dagger repository). The first engine run failed on `ExecError`, which the npm package
 * exports and the runtime's does not. Every value src/ imports must be in that set.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, extname, join } from "node:path"

import ts from "typescript"
import { describe, expect, test } from "vitest"

const RUNTIME_HELPERS = [
  "connection",
  "connect",
  "Context",
  "func",
  "check",
  "generate",
  "argument",
  "object",
  "field",
  "enumType",
  "entrypoint",
]

const require = createRequire(import.meta.url)
const clientGen = join(dirname(require.resolve("@dagger.io/dagger")), "api", "client.gen.d.ts")

/** The values the generated client exports (classes, enums, consts, functions); types are erased and do not matter. */
function clientValues(): Set<string> {
  const source = ts.createSourceFile(clientGen, readFileSync(clientGen, "utf8"), ts.ScriptTarget.ES2022)
  const names = new Set<string>()
  for (const statement of source.statements) {
    const exported =
      ts.canHaveModifiers(statement) && ts.getModifiers(statement)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
    if (!exported) continue
    if (
      (ts.isClassDeclaration(statement) || ts.isEnumDeclaration(statement) || ts.isFunctionDeclaration(statement)) &&
      statement.name
    )
      names.add(statement.name.text)
    if (ts.isVariableStatement(statement))
      for (const d of statement.declarationList.declarations) if (ts.isIdentifier(d.name)) names.add(d.name.text)
  }
  return names
}

/** Value imports from "@dagger.io/dagger" in one file: `import { dag, type Secret }` gives ["dag"]. */
function daggerValueImports(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022)
  const names: string[] = []
  for (const statement of source.statements) {
    if (
      !ts.isImportDeclaration(statement) ||
      (statement.moduleSpecifier as ts.StringLiteral).text !== "@dagger.io/dagger"
    )
      continue
    const clause = statement.importClause
    if (!clause || clause.isTypeOnly) continue
    if (clause.name) names.push("default")
    const bindings = clause.namedBindings
    if (bindings && ts.isNamespaceImport(bindings)) names.push("* as namespace")
    if (bindings && ts.isNamedImports(bindings))
      for (const el of bindings.elements) if (!el.isTypeOnly) names.push((el.propertyName ?? el.name).text)
  }
  return names
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    return statSync(path).isDirectory() ? sourceFiles(path) : extname(path) === ".ts" ? [path] : []
  })
}

describe("src/ imports only what the engine's TypeScript runtime provides", () => {
  const available = new Set([...RUNTIME_HELPERS, ...clientValues()])

  test("the generated client is read (dag, Container, ReturnType are in it)", () => {
    for (const name of ["dag", "Container", "ReturnType", "ExistsType"]) expect(available.has(name), name).toBe(true)
  })

  test.each(sourceFiles("src"))("%s", (file) => {
    const missing = daggerValueImports(file, readFileSync(file, "utf8")).filter((name) => !available.has(name))
    expect(
      missing,
      `${file} imports ${missing.join(", ")} from @dagger.io/dagger, which the runtime's generated SDK does not export`,
    ).toEqual([])
  })

  test.each([
    [
      "ExecError, as the first engine run found",
      `import { dag, ExecError, type Secret } from "@dagger.io/dagger"`,
      ["ExecError"],
    ],
    ["a default import", `import dagger from "@dagger.io/dagger"`, ["default"]],
    [
      "type-only imports are fine",
      `import type { Secret } from "@dagger.io/dagger"\nimport { type Container, ReturnType } from "@dagger.io/dagger"`,
      [],
    ],
  ])("the check catches %s", (_name, text, missing) => {
    expect(daggerValueImports("x.ts", text).filter((name) => !available.has(name))).toEqual(missing)
  })
})

/** The packages a file imports values from: `import { parseDocument } from "yaml"` gives ["yaml"]; node: builtins, relative paths and type-only imports left out. */
function packageValueImports(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022)
  const packages: string[] = []
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || statement.importClause?.isTypeOnly) continue
    const specifier = (statement.moduleSpecifier as ts.StringLiteral).text
    if (specifier.startsWith(".") || specifier.startsWith("node:")) continue
    const parts = specifier.split("/")
    packages.push(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!)
  }
  return packages
}

describe("src/ imports only packages the engine's runtime installs (package.json dependencies, not devDependencies)", () => {
  const manifest = JSON.parse(readFileSync("package.json", "utf8")) as { dependencies: Record<string, string> }
  // The runtime provides the SDK itself (checked above); everything else must be a dependency.
  const installed = new Set([...Object.keys(manifest.dependencies), "@dagger.io/dagger"])

  test.each(sourceFiles("src"))("%s", (file) => {
    const missing = packageValueImports(file, readFileSync(file, "utf8")).filter((name) => !installed.has(name))
    expect(
      missing,
      `${file} imports ${missing.join(", ")}, which is not in package.json's dependencies: the Dagger runtime installs only those`,
    ).toEqual([])
  })

  test.each([
    ["a devDependency, as yaml was", `import { parseDocument } from "yaml"`, { dependencies: {} }, ["yaml"]],
    [
      "a scoped package's subpath",
      `import { Octokit } from "@octokit/core/dist"`,
      { dependencies: { "@octokit/core": "7" } },
      [],
    ],
    [
      "node builtins, relative files and type-only imports",
      `import { x } from "node:fs"\nimport { y } from "./y.js"\nimport type { Z } from "zx"`,
      { dependencies: {} },
      [],
    ],
  ])("the check catches %s", (_name, text, deps, missing) => {
    const allowed = new Set([...Object.keys(deps.dependencies), "@dagger.io/dagger"])
    expect(packageValueImports("x.ts", text).filter((name) => !allowed.has(name))).toEqual(missing)
  })
})
