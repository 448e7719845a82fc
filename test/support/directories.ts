/**
 * Directories a recorded module builds (support/dagger.ts), made real on this host for the tests'
 * stand-in engines: a chart the module pulled by reference and hands Helm (`dag.directory()` with
 * its files, `chartDirectory` in src/charts/directory.ts, binary files decoded by its one shell
 * run), and a chart directory the module reads as bytes (`chartFilesOf`: tar and base64 in the
 * Helm image, run here by the host's shell). Every directory the module names by ID maps to a
 * host path.
 */
import { execFileSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"

import { argValue, type Call, type Query } from "./dagger.js"

export interface HostDirectories {
  /** The host path of a directory the module names by ID (given by the test, or built by the module). */
  path(id: string): string | undefined
  /**
   * Answers a query that builds a directory and asks for its ID (`directory { withNewFile ... { id } }`,
   * or the decode run's `directory(path: "/chart") { id }`) by making it on this host, or asks
   * whether a file exists in one (given or built); undefined otherwise.
   */
  answer(query: Query): unknown
  /** Answers the stdout of `chartFilesOf`'s tar run over a directory of this host; undefined for any other query. */
  tarStdout(query: Query): string | undefined
}

/** The shell the module's runs in the Helm image use (Alpine's busybox): the host's sh. */
const SH = "/bin/sh"

export function hostDirectories(given: Record<string, string>): HostDirectories {
  const built = new Map<string, string>()
  let counter = 0
  const path = (id: string) => given[id] ?? built.get(id)

  /** Container path -> host path for a container's withDirectory mounts. */
  const mounts = (chain: readonly Call[]): [string, string][] =>
    chain
      .filter((c) => c.field === "withDirectory")
      .map((c) => {
        const source = argValue(c.args, "source") as string
        const host = path(source)
        if (!host) throw new Error(`host directories: no directory with ID ${source}`)
        return [argValue(c.args, "path") as string, host]
      })

  /** The host path of the directory a chain of calls builds (the calls before the leaf), made when needed. */
  const dirOf = (chain: Call[]): string | undefined => {
    const first = chain[0]
    if (!first) return undefined
    if (first.field === "loadDirectoryFromID" && chain.length === 1) return path(argValue(first.args, "id") as string)
    // dag.directory() and its files.
    if (first.field === "directory" && chain.slice(1).every((c) => c.field === "withNewFile")) {
      const dir = mkdtempSync(join(tmpdir(), "module-dir-"))
      for (const call of chain.slice(1)) {
        const file = join(dir, argValue(call.args, "path") as string)
        mkdirSync(dirname(file), { recursive: true })
        writeFileSync(file, argValue(call.args, "contents") as string)
      }
      return dir
    }
    // A container's run that writes into a mounted directory, read back with directory(path:).
    const exec = chain.find((c) => c.field === "withExec")
    const read = chain.at(-1)!
    if (first.field === "container" && exec && read.field === "directory") {
      const root = mkdtempSync(join(tmpdir(), "module-run-"))
      const mapped = mounts(chain).map(([inside, host]): [string, string] => {
        const copy = join(root, inside)
        cpSync(host, copy, { recursive: true })
        return [inside, copy]
      })
      const map = (value: string) => {
        const hit = mapped.find(([inside]) => value === inside || value.startsWith(`${inside}/`))
        return hit ? hit[1] + value.slice(hit[0].length) : value
      }
      const args = argValue(exec.args, "args") as string[]
      if (args[0] !== "sh" || args[1] !== "-c") throw new Error(`host directories: cannot run ${args.join(" ")}`)
      execFileSync(SH, ["-c", args[2]!, ...args.slice(3, 4), ...args.slice(4).map(map)])
      const out = map(argValue(read.args, "path") as string)
      if (!existsSync(out)) throw new Error(`host directories: the run made no ${String(argValue(read.args, "path"))}`)
      return out
    }
    return undefined
  }

  const answer = (query: Query): unknown => {
    if (query.leaf === "id") {
      const dir = query.chain[0]!.field === "loadDirectoryFromID" ? undefined : dirOf(query.chain.slice(0, -1))
      if (dir === undefined) return undefined
      const id = `DirectoryID-built-${++counter}`
      built.set(id, dir)
      return id
    }
    if (query.leaf === "exists") {
      const dir = dirOf(query.chain.slice(0, -1))
      if (dir === undefined) return undefined
      const file = join(dir, argValue(query.chain.at(-1)!.args, "path") as string)
      return existsSync(file) && statSync(file).isFile()
    }
    return undefined
  }

  const tarStdout = (query: Query): string | undefined => {
    if (query.leaf !== "stdout") return undefined
    const exec = query.chain.find((c) => c.field === "withExec")
    const args = exec ? (argValue(exec.args, "args") as string[]) : []
    if (args[0] !== "sh" || args[1] !== "-c" || !/^cd \/chart && tar /.test(args[2] ?? "")) return undefined
    const [, host] = mounts(query.chain).find(([inside]) => inside === "/chart") ?? []
    if (!host) throw new Error("host directories: the tar run has no /chart")
    return execFileSync(SH, ["-c", args[2]!.replace("cd /chart", `cd '${host}'`)], {
      maxBuffer: 256 * 1024 * 1024,
    }).toString()
  }

  return { path, answer, tarStdout }
}
