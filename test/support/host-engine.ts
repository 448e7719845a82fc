/**
 * Answers a recorded module run (support/dagger.ts) by running each container's command for real
 * on this host: the container's withExec arguments, exactly as the module sent them (a quiet
 * command's stdout into its file, support/exec-answers.ts), run by the real kubectl or helm of .cache/tools (the versions the module's images pin). Every mounted
 * Secret is written to a file at its mount path under a temporary root, the chart directory is
 * the one on disk, environment variables and arguments that name a mounted path are mapped into
 * that root, and the recording gets the real exit code, stdout and stderr. A container field this
 * executor does not know is refused rather than ignored.
 */
import { spawn } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"

import { HELM_IMAGE, KUBECTL_IMAGE } from "../../src/engine/images.js"
import { argValue, type Query } from "./dagger.js"
import { hostDirectories } from "./directories.js"
import { type Command, execAnswers } from "./exec-answers.js"
import { helmPath, kubectlPath } from "./tools.js"

/** One command that ran, as the module sent it (paths as the container sees them). */
export interface HostRun {
  readonly image: string
  readonly args: readonly string[]
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

export interface HostEngineOptions {
  /** Secrets the test hands the module, by the ID it loads them from. */
  secrets: Record<string, string>
  /** Directories the test hands the module, by ID, as host paths. */
  directories: Record<string, string>
  /** Answers a `publish` leaf (release pushes its image into a real registry). */
  publish?: (query: Query) => Promise<string>
  /** Called before a command runs (a test can cut a run short). */
  onStart?: (args: readonly string[], kill: () => void) => void
}

const TOOLS: Record<string, { image: string; path: () => string }> = {
  kubectl: { image: KUBECTL_IMAGE, path: kubectlPath },
  helm: { image: HELM_IMAGE, path: helmPath },
}

/** The container fields whose meaning this executor reproduces. */
const KNOWN = new Set([
  "container",
  "from",
  "withMountedSecret",
  "withEnvVariable",
  "withDirectory",
  "withExec",
  "exitCode",
  "stdout",
  "stderr",
  "file",
  "contents",
])

export function hostEngine(options: HostEngineOptions) {
  const runs: HostRun[] = []
  const created = new Map<string, string>()
  let counter = 0

  const secretText = (id: string): string => {
    const text = options.secrets[id] ?? created.get(id)
    if (text === undefined) throw new Error(`host engine: no secret with ID ${id}`)
    return text
  }

  async function execute({ args, quiet }: Command, query: Query): Promise<HostRun> {
    for (const call of query.chain)
      if (!KNOWN.has(call.field))
        throw new Error(`host engine: the container uses ${call.field}, which this executor does not reproduce`)
    const image = argValue(query.chain.find((c) => c.field === "from")!.args, "address") as string
    const exec = query.chain.find((c) => c.field === "withExec")!
    if (!/expect: ANY\b/.test(exec.args))
      throw new Error("host engine: the module runs commands with expect: ANY and reads the exit code")
    const tool = TOOLS[args[0]!]
    if (!tool) throw new Error(`host engine: ${args[0]} is neither kubectl nor helm`)
    if (tool.image !== image) throw new Error(`host engine: ${args[0]} ran in ${image}, expected ${tool.image}`)
    // Only Helm's image (Alpine) has the shell a quiet command needs; kubectl's has none.
    if (quiet && image !== HELM_IMAGE)
      throw new Error(`host engine: a quiet command needs a shell, and ${image} has none`)

    const root = mkdtempSync(join(tmpdir(), "container-"))
    try {
      // Container path -> host path, longest first.
      const mapped: [string, string][] = []
      for (const call of query.chain.filter((c) => c.field === "withMountedSecret")) {
        const path = argValue(call.args, "path") as string
        const file = join(root, path)
        mkdirSync(dirname(file), { recursive: true })
        writeFileSync(file, secretText(argValue(call.args, "source") as string))
        chmodSync(file, (argValue(call.args, "mode") as number | undefined) ?? 0o400)
        mapped.push([path, file])
      }
      for (const call of query.chain.filter((c) => c.field === "withDirectory")) {
        const source = argValue(call.args, "source") as string
        const dir = directories.path(source)
        if (!dir) throw new Error(`host engine: no directory with ID ${source}`)
        mapped.push([argValue(call.args, "path") as string, dir])
      }
      mapped.sort((a, b) => b[0].length - a[0].length)
      const map = (value: string) => {
        for (const [from, to] of mapped)
          if (value === from || value.startsWith(`${from}/`)) return to + value.slice(from.length)
        return value
      }
      const home = join(root, "root")
      mkdirSync(home)
      const env: Record<string, string> = { PATH: "/usr/bin:/bin", HOME: home }
      for (const call of query.chain.filter((c) => c.field === "withEnvVariable"))
        env[argValue(call.args, "name") as string] = map(argValue(call.args, "value") as string)

      const child = spawn(tool.path(), args.slice(1).map(map), { cwd: home, env })
      options.onStart?.(args, () => child.kill("SIGKILL"))
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      const exitCode = await new Promise<number>((done) =>
        child.on("close", (code, signal) => done(code ?? (signal ? 128 + 9 : -1))),
      )
      // Paths in what the program printed are shown as the container would show them.
      const unmap = (text: string) => mapped.reduce((t, [from, to]) => t.split(to).join(from), text)
      const run = { image, args, exitCode, stdout: unmap(stdout), stderr: unmap(stderr) }
      runs.push(run)
      return run
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  }

  const commands = execAnswers(execute)
  const directories = hostDirectories(options.directories)
  const answer = async (query: Query): Promise<unknown> => {
    const first = query.chain[0]!
    if (query.leaf === "plaintext") return secretText(argValue(first.args, "id") as string)
    if (first.field === "setSecret" && query.leaf === "id") {
      const id = `host-secret-${++counter}`
      created.set(id, argValue(first.args, "plaintext") as string)
      return id
    }
    if (query.leaf === "publish") {
      if (!options.publish) throw new Error("host engine: publish was not expected")
      return options.publish(query)
    }
    const built = directories.answer(query)
    if (built !== undefined) return built
    const tarred = directories.tarStdout(query)
    if (tarred !== undefined) return tarred
    if (query.leaf === "exists" && first.field === "loadDirectoryFromID") {
      const dir = directories.path(argValue(first.args, "id") as string)
      if (!dir) throw new Error(`host engine: no directory with ID ${String(argValue(first.args, "id"))}`)
      const path = join(dir, argValue(query.chain.at(-1)!.args, "path") as string)
      return existsSync(path) && statSync(path).isFile()
    }
    return commands(query)
  }

  return { answer, runs }
}
