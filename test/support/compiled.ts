/**
 * The module's own TypeScript, compiled to JavaScript a separate Node process can run (a test
 * that kills a real run needs the run in a process of its own). tsc, with the project's settings,
 * into .cache/compiled/<entries' hash>, once per set of entries and sources.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"

const ROOT = resolve(".")

/** Compiles `entries` (paths from the repository root) and what they import; returns the output directory. */
export async function compileForChild(entries: readonly string[]): Promise<string> {
  const hash = createHash("sha256")
  hash.update(entries.join("\n"))
  for (const file of sources(join(ROOT, "src"))) hash.update(file).update(readFileSync(file))
  const out = join(ROOT, ".cache", "compiled", hash.digest("hex").slice(0, 16))
  if (existsSync(join(out, ".done"))) return out
  mkdirSync(out, { recursive: true })
  const config = join(out, "tsconfig.json")
  writeFileSync(
    config,
    JSON.stringify({
      extends: join(ROOT, "tsconfig.json"),
      compilerOptions: { noEmit: false, outDir: out, rootDir: ROOT, declaration: false, sourceMap: false },
      files: entries.map((entry) => join(ROOT, entry)),
      include: [],
    }),
  )
  execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", config], {
    stdio: "inherit",
  })
  writeFileSync(join(out, ".done"), "")
  return out
}

function sources(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name)
      return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : []
    })
}
