/**
 * What Dagger will register for this module, from the SDK's own introspector (the code the
 * engine runs at load time): functions, arguments, defaults, doc comments and cache policy.
 */
import { copyFileSync, mkdtempSync, readdirSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, extname, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"

const require = createRequire(import.meta.url)
const sdkDist = dirname(require.resolve("@dagger.io/dagger"))

export interface ArgumentInfo {
  name: string
  description: string
  type: { kind: string; name?: string; typeDef?: { kind: string; name?: string } }
  isOptional: boolean
  isNullable: boolean
  defaultValue?: unknown
}

export interface FunctionInfo {
  name: string
  description: string
  cache?: string
  arguments: Record<string, ArgumentInfo>
  returnType: { kind: string; name?: string; typeDef?: { kind: string } }
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return extname(path) === ".ts" ? [path] : []
  })
}

let cached: Promise<{ description: string; functions: Record<string, FunctionInfo> }> | undefined

/** Scans `src/` the way the engine does and returns the main object's functions. */
export function introspectModule(): Promise<{ description: string; functions: Record<string, FunctionInfo> }> {
  cached ??= (async () => {
    const tmp = mkdtempSync(join(tmpdir(), "introspect-"))
    const client = join(tmp, "client.gen.ts")
    copyFileSync(join(sdkDist, "api", "client.gen.d.ts"), client)
    const { scan } = (await import(pathToFileURL(join(sdkDist, "module", "introspector", "index.js")).href)) as {
      scan(files: string[], moduleName: string, fast: boolean): Promise<{ objects: Record<string, { description: string; methods: Record<string, FunctionInfo & { toJSON(): unknown }> }> }>
    }
    const result = await scan([...sourceFiles(resolve("src")), client], "meetinity-release", false)
    const main = result.objects["MeetinityRelease"]
    if (!main) throw new Error("introspection found no MeetinityRelease object")
    const functions: Record<string, FunctionInfo> = {}
    for (const [name, fn] of Object.entries(main.methods)) {
      const json = JSON.parse(JSON.stringify(fn)) as FunctionInfo
      functions[name] = { ...json, cache: fn.cache }
    }
    return { description: main.description, functions }
  })()
  return cached
}
