// Load-cost benchmark: the TypeScript program the v0.21 SDK builds on every `dagger call`.
//
// On each call the v0.21 TypeScript runtime starts `src/__dagger.entrypoint.ts`, which lists every
// `.ts` file under `src/` and adds the generated client (`sdk/client.gen.ts`); the SDK's entrypoint
// then runs `ts.createProgram(files, { experimentalDecorators: true, moduleResolution: Node10,
// target: ES2022 })` (no tsconfig, so no `paths` and no `skipLibCheck`) and type-checks what it
// registers or invokes. This script rebuilds that program for this module and for an empty
// module beside it, in the layout the runtime gives them:
//   <module>/src/...                      the module's source, plus the runtime's entrypoint file
//   <module>/sdk/                         the SDK library: index.ts, telemetry.ts, client.gen.ts, core.d.ts
//   <module>/node_modules/@dagger.io/dagger  the same library again (the runtime mounts it twice)
//   <module>/node_modules/...             `npm ci --omit=dev`: dependencies only, so no @types
// and prints both programs' size (files, MB of source text), the ratio, the heaviest packages, and
// the wall and CPU time of building the program and of type-checking it.
//
// Two approximations, both the same for the two modules (so they make the ratio larger, never
// smaller): the engine generates `client.gen.ts` with method bodies, here it is the SDK package's
// declaration of the same client; and the engine bundles the SDK's declarations into one
// `core.d.ts`, here `core.d.ts` re-exports the SDK package's own declaration files.
//
// Usage: npm run bench:load [-- --runs 3 --json]
import { execFileSync } from "node:child_process"
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, extname, join, relative, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"

const require = createRequire(import.meta.url)
export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
export const GOAL = 3.5

// Files the v0.21 runtime writes next to the module (dagger/dagger, sdk/typescript/runtime/tsutils):
// bin/__dagger.entrypoint.ts, module/index.ts and module/telemetry.ts, verbatim.
export const ENTRYPOINT_TS = `// THIS FILE IS AUTO GENERATED. PLEASE DO NOT EDIT.
import { entrypoint } from "@dagger.io/dagger"
import * as fs from "fs"
import * as path from "path"

const allowedExtensions = [".ts", ".mts"]

function listTsFilesInModule(dir = import.meta.dirname): string[] {
  let bundle = true

  // For background compatibility, if there's a package.json in the sdk directory
  // We should set the right path to the client.
  if (fs.existsSync(\`\${import.meta.dirname}/../sdk/package.json\`)) {
    bundle = false
  }

  const res = fs.readdirSync(dir).map((file) => {
    const filepath = path.join(dir, file)

    const stat = fs.statSync(filepath)

    if (stat.isDirectory()) {
      return listTsFilesInModule(filepath)
    }

    const ext = path.extname(filepath)
    if (allowedExtensions.find((allowedExt) => allowedExt === ext)) {
      return [path.join(dir, file)]
    }

    return []
  })

  return res.reduce(
    (p, c) => [...c, ...p],
    [\`\${import.meta.dirname}/../sdk/\${bundle ? "" : "src/api/"}client.gen.ts\`],
  )
}

const files = listTsFilesInModule()

entrypoint(files)
`
const SDK_INDEX_TS = `export {
  connection,
  connect,
  Context,
  func,
  check,
  generate,
  argument,
  object,
  field,
  enumType,
  entrypoint,
} from "./core.js"

export type { ConnectOpts, CallbackFct } from "./core.js"

export * from "./client.gen.js"
`
const SDK_TELEMETRY_TS = `import { getTracer } from "./core.js"

export { getTracer }
`
// The trivial module `empty` stands for: one object, one function, nothing imported but the SDK.
export const EMPTY_INDEX_TS = `import { object, func } from "@dagger.io/dagger"

@object()
export class Empty {
  @func()
  hello(): string {
    return "hello"
  }
}
`

/** The SDK's per-call compiler options (dist/src/module/introspector/typescript_module/ast.js). */
export function entrypointOptions(ts) {
  return {
    experimentalDecorators: true,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    target: ts.ScriptTarget.ES2022,
  }
}

/** The files the entrypoint hands to the SDK: every .ts/.mts under src/ and the generated client. */
export function entrypointFiles(moduleDir) {
  const walk = (dir) =>
    readdirSync(dir).flatMap((entry) => {
      const path = join(dir, entry)
      if (statSync(path).isDirectory()) return walk(path)
      return [".ts", ".mts"].includes(extname(path)) ? [path] : []
    })
  const bundle = !existsSync(join(moduleDir, "sdk", "package.json"))
  return [
    ...walk(join(moduleDir, "src")),
    join(moduleDir, "sdk", bundle ? "client.gen.ts" : join("src", "api", "client.gen.ts")),
  ]
}

/** Which package a program file belongs to: its node_modules package, the TypeScript lib, the SDK, or the module's source. */
export function packageOf(file, moduleDir) {
  const path = relative(moduleDir, file).split(sep).join("/")
  const at = path.lastIndexOf("node_modules/")
  if (at >= 0) {
    const parts = path.slice(at + "node_modules/".length).split("/")
    const name = parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]
    if (name === "@dagger.io/dagger") return "(Dagger SDK)"
    if (name === "typescript" && parts.at(-1).startsWith("lib.")) return "(TypeScript lib)"
    const pkgJson = join(moduleDir, path.slice(0, at), "node_modules", name, "package.json")
    const version = existsSync(pkgJson) ? JSON.parse(readFileSync(pkgJson, "utf8")).version : undefined
    return version ? `${name}@${version}` : name
  }
  if (path.startsWith("sdk/")) return "(Dagger SDK)"
  if (path.startsWith("src/")) return "(module source)"
  return path
}

// The SDK library as the runtime lays it out (index.ts, telemetry.ts, client.gen.ts, core.d.ts).
function writeSdkLibrary(dir, sdkDist) {
  mkdirSync(dir, { recursive: true })
  cpSync(sdkDist, join(dir, "core"), {
    recursive: true,
    filter: (p) => statSync(p).isDirectory() || p.endsWith(".d.ts"),
  })
  writeFileSync(join(dir, "core.d.ts"), `export * from "./core/index.js"\n`)
  writeFileSync(join(dir, "index.ts"), SDK_INDEX_TS)
  writeFileSync(join(dir, "telemetry.ts"), SDK_TELEMETRY_TS)
  const client = readFileSync(join(sdkDist, "api", "client.gen.d.ts"), "utf8")
  if (!client.includes(`from "../common/context.js"`))
    throw new Error("the SDK's client.gen.d.ts no longer imports ../common/context.js: update bench-load.mjs")
  writeFileSync(join(dir, "client.gen.ts"), client.replace(`from "../common/context.js"`, `from "./core.js"`))
}

/** Lays out a module the way the runtime does: src/ (with the entrypoint), sdk/, node_modules/@dagger.io/dagger. */
export function layOutModule(moduleDir, { src, indexTs, sdkDist }) {
  mkdirSync(join(moduleDir, "src"), { recursive: true })
  if (src) cpSync(src, join(moduleDir, "src"), { recursive: true })
  if (indexTs) writeFileSync(join(moduleDir, "src", "index.ts"), indexTs)
  writeFileSync(join(moduleDir, "src", "__dagger.entrypoint.ts"), ENTRYPOINT_TS)
  writeSdkLibrary(join(moduleDir, "sdk"), sdkDist)
  writeSdkLibrary(join(moduleDir, "node_modules", "@dagger.io", "dagger"), sdkDist)
}

/**
 * Builds the entrypoint's program for moduleDir and (unless check is false) type-checks it; sizes
 * by package, wall and CPU milliseconds. The runtime's working directory is the module's, and
 * TypeScript looks for @types packages from there: so does this, whatever the process's is.
 */
export function measure(moduleDir, ts, { check = true } = {}) {
  const files = entrypointFiles(moduleDir)
  const options = entrypointOptions(ts)
  const host = ts.createCompilerHost(options)
  host.getCurrentDirectory = () => moduleDir
  const cpu = () => {
    const { user, system } = process.cpuUsage()
    return (user + system) / 1000
  }
  const t0 = performance.now()
  const c0 = cpu()
  const program = ts.createProgram({ rootNames: files, options, host })
  const t1 = performance.now()
  const c1 = cpu()
  const diagnostics = check ? ts.getPreEmitDiagnostics(program).length : undefined
  const t2 = performance.now()
  const c2 = cpu()
  const packages = {}
  let bytes = 0
  let count = 0
  let redirects = 0
  for (const sourceFile of program.getSourceFiles()) {
    // A second copy of a package version TypeScript already read is a redirect: not parsed again.
    if (sourceFile.redirectInfo) {
      redirects++
      continue
    }
    const size = Buffer.byteLength(sourceFile.text)
    const name = packageOf(sourceFile.fileName, moduleDir)
    packages[name] ??= { files: 0, bytes: 0 }
    packages[name].files++
    packages[name].bytes += size
    bytes += size
    count++
  }
  return {
    files: count,
    bytes,
    redirects,
    packages,
    diagnostics,
    build: { wallMs: t1 - t0, cpuMs: c1 - c0 },
    check: { wallMs: t2 - t1, cpuMs: c2 - c1 },
  }
}

/**
 * Lays out this module (its src/, and its dependencies from the lock file without devDependencies,
 * as the runtime's `npm install --omit=dev` does) and the empty module under work. Returns their
 * directories and the TypeScript the module installs, which the runtime uses for both.
 */
export function prepareModules(work, { from = root } = {}) {
  const sdkDist = dirname(require.resolve("@dagger.io/dagger"))
  const moduleDir = join(work, "meetinity-release")
  const emptyDir = join(work, "empty")
  mkdirSync(moduleDir, { recursive: true })
  for (const file of ["package.json", "package-lock.json"]) cpSync(join(from, file), join(moduleDir, file))
  execFileSync(
    "npm",
    ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
    {
      cwd: moduleDir,
      stdio: ["ignore", "ignore", "inherit"],
    },
  )
  layOutModule(moduleDir, { src: join(from, "src"), sdkDist })
  mkdirSync(emptyDir)
  writeFileSync(
    join(emptyDir, "package.json"),
    JSON.stringify({ type: "module", dependencies: { typescript: "~5.9.3" } }, null, 2),
  )
  layOutModule(emptyDir, { indexTs: EMPTY_INDEX_TS, sdkDist })
  return { moduleDir, emptyDir, typescriptPath: require.resolve("typescript", { paths: [moduleDir] }) }
}

/** The Octokit type packages (name@version) a measured program holds. */
export const octokitTypePackages = (result) =>
  Object.keys(result.packages).filter((name) => /^@octokit\/(openapi-)?types@/.test(name))

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const mb = (bytes) => (bytes / 1e6).toFixed(2)
const ms = (value) => `${Math.round(value)} ms`

/** Measures moduleDir `runs` times, each in a fresh Node process (the runtime starts one per call); medians of the times. */
function measureFresh(moduleDir, runs, typescriptPath) {
  const results = []
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(
      process.execPath,
      [fileURLToPath(import.meta.url), "--measure", moduleDir, "--typescript", typescriptPath],
      {
        encoding: "utf8",
        maxBuffer: 64 << 20,
      },
    )
    results.push(JSON.parse(out))
  }
  const pick = (phase, key) => median(results.map((r) => r[phase][key]))
  return {
    ...results[0],
    build: { wallMs: pick("build", "wallMs"), cpuMs: pick("build", "cpuMs") },
    check: { wallMs: pick("check", "wallMs"), cpuMs: pick("check", "cpuMs") },
  }
}

function heaviest(result, other, limit = 12) {
  return Object.entries(result.packages)
    .sort(([, a], [, b]) => b.bytes - a.bytes)
    .slice(0, limit)
    .map(([name, { files, bytes }]) => ({
      name,
      files,
      mb: Number(mb(bytes)),
      inEmpty: name !== "(module source)" && name in other.packages,
    }))
}

async function main(args) {
  const flag = (name) => args.includes(`--${name}`)
  const option = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback)

  if (flag("measure")) {
    const ts = require(option("typescript"))
    process.stdout.write(JSON.stringify(measure(option("measure"), ts)))
    return
  }

  const runs = Number(option("runs", "3"))
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`--runs "${option("runs")}" is not a positive whole number: expected e.g. --runs 3`)
  const work = mkdtempSync(join(tmpdir(), "bench-load-"))
  try {
    const { moduleDir, emptyDir, typescriptPath } = prepareModules(work)
    const version = JSON.parse(readFileSync(join(dirname(typescriptPath), "..", "package.json"), "utf8")).version
    const mod = measureFresh(moduleDir, runs, typescriptPath)
    const empty = measureFresh(emptyDir, runs, typescriptPath)
    const ratio = mod.bytes / empty.bytes
    const octokitTypes = octokitTypePackages(mod)
    const summary = {
      typescript: version,
      runs,
      module: {
        files: mod.files,
        mb: Number(mb(mod.bytes)),
        redirects: mod.redirects,
        build: mod.build,
        check: mod.check,
        diagnostics: mod.diagnostics,
      },
      empty: {
        files: empty.files,
        mb: Number(mb(empty.bytes)),
        redirects: empty.redirects,
        build: empty.build,
        check: empty.check,
        diagnostics: empty.diagnostics,
      },
      ratio: Number(ratio.toFixed(2)),
      goal: GOAL,
      met: ratio <= GOAL,
      octokitTypes,
      heaviest: heaviest(mod, empty),
    }
    if (flag("json")) {
      console.log(JSON.stringify(summary, null, 2))
      return
    }
    const row = (name, r) =>
      `${name.padEnd(18)} ${String(r.files).padStart(5)} files ${mb(r.bytes).padStart(7)} MB   build ${ms(r.build.wallMs).padStart(8)} wall ${ms(r.build.cpuMs).padStart(8)} CPU   type-check ${ms(r.check.wallMs).padStart(8)} wall ${ms(r.check.cpuMs).padStart(8)} CPU`
    console.log(`The SDK's per-call program (TypeScript ${version}, median of ${runs} fresh processes):`)
    console.log(row("meetinity-release", mod))
    console.log(row("empty module", empty))
    console.log(`ratio ${ratio.toFixed(2)}x (goal <= ${GOAL}x: ${ratio <= GOAL ? "met" : "NOT met"})`)
    console.log(`Octokit type packages in the program: ${octokitTypes.join(", ") || "none"}`)
    if (mod.redirects) console.log(`(${mod.redirects} more files were second copies of a package version, read once)`)
    console.log(`\nHeaviest packages in meetinity-release's program:`)
    for (const p of summary.heaviest)
      console.log(
        `  ${p.mb.toFixed(2).padStart(6)} MB ${String(p.files).padStart(4)} files  ${p.name}${p.inEmpty ? "  (also in the empty module)" : ""}`,
      )
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2))
}
