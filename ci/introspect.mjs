// What Dagger will register for this module, from the SDK's own introspector (the code the
// engine runs at load time) over src/: the main object's functions, their arguments, defaults,
// doc comments and cache policy. Used by ci/api-docs.mjs and by the tests.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, extname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const require = createRequire(import.meta.url)
const sdkDist = dirname(require.resolve("@dagger.io/dagger"))
export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return extname(path) === ".ts" ? [path] : []
  })
}

/** Scans `src/` the way the engine does; returns the module's name, description and functions (in source order). */
export async function introspectModule() {
  const tmp = mkdtempSync(join(tmpdir(), "introspect-"))
  const client = join(tmp, "client.gen.ts")
  copyFileSync(join(sdkDist, "api", "client.gen.d.ts"), client)
  const { scan } = await import(pathToFileURL(join(sdkDist, "module", "introspector", "index.js")).href)
  const name = JSON.parse(readFileSync(join(root, "dagger.json"), "utf8")).name
  const result = await scan([...sourceFiles(join(root, "src")), client], name, false)
  const main = result.objects["MeetinityRelease"]
  if (!main) throw new Error("introspection found no MeetinityRelease object")
  const functions = {}
  for (const [fnName, fn] of Object.entries(main.methods))
    functions[fnName] = { ...JSON.parse(JSON.stringify(fn)), cache: fn.cache }
  return { name, description: main.description, functions }
}
