/**
 * Charts for the chart tests: real Helm 4.1.4 run with a home of its own (its registry login,
 * its content cache), chart directories read as the module is handed them, copied and changed.
 */
import { execFile, spawnSync } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, relative, resolve } from "node:path"

import { type ChartFile } from "../../src/charts/package.js"
import { type RunResult, helmPath } from "./tools.js"

/** The example umbrella chart of the repository. */
export const EXAMPLE_CHART = resolve("examples", "meetinity")

/** Helm with a home of its own: `helm registry login` there is seen by every later run of it, and by nothing else. */
export interface HelmHome {
  readonly home: string
  run(args: string[], input?: string): RunResult
  /** Like run, failing the test with Helm's words when it fails. */
  ok(args: string[], input?: string): string
  /** Like ok, with what Helm wrote to stderr too (where `push` and `pull` print the digest). */
  said(args: string[], input?: string): string
  /**
   * Like said, without blocking the event loop: for a registry front served by this very process
   * (a spawnSync would wait on a server that cannot answer while it waits).
   */
  saidAsync(args: string[], input?: string): Promise<string>
}

export function helmHome(): HelmHome {
  const home = mkdtempSync(join(tmpdir(), "helm-charts-"))
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_DATA_HOME: join(home, "data"),
    KUBECONFIG: join(home, "no-kubeconfig"),
  }
  const run = (args: string[], input?: string): RunResult => {
    const result = spawnSync(helmPath(), args, { encoding: "utf8", env, cwd: home, input, timeout: 60_000 })
    return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr }
  }
  return {
    home,
    run,
    ok(args, input) {
      const result = run(args, input)
      if (result.status !== 0) throw new Error(`helm ${args.join(" ")} failed (${result.status}): ${result.stderr}`)
      return result.stdout
    },
    said(args, input) {
      const result = run(args, input)
      if (result.status !== 0) throw new Error(`helm ${args.join(" ")} failed (${result.status}): ${result.stderr}`)
      return `${result.stdout}${result.stderr}`
    },
    saidAsync(args, input) {
      return new Promise((resolve, reject) => {
        const child = execFile(
          helmPath(),
          args,
          { encoding: "utf8", env, cwd: home, timeout: 60_000 },
          (error, stdout, stderr) =>
            error
              ? reject(new Error(`helm ${args.join(" ")} failed: ${stderr || error.message}`))
              : resolve(`${stdout}${stderr}`),
        )
        child.stdin?.end(input ?? "")
      })
    },
  }
}

/** Every file under a directory, as the module is handed a chart (relative paths, bytes). */
export function readChartFiles(dir: string): ChartFile[] {
  const files: ChartFile[] = []
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name)
      if (statSync(path).isDirectory()) walk(path)
      else files.push({ path: relative(dir, path).split("\\").join("/"), contents: readFileSync(path) })
    }
  }
  walk(dir)
  return files
}

/** A copy of a chart directory in a fresh temporary directory, with `changes` written (path: contents). */
export function copyChart(source: string, changes: Record<string, string | Uint8Array> = {}): string {
  const dir = join(mkdtempSync(join(tmpdir(), "chart-")), "meetinity")
  cpSync(source, dir, { recursive: true })
  for (const [path, contents] of Object.entries(changes)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), contents)
  }
  return dir
}

/** Writes files (as pullChart returns them) into a fresh directory, for Helm to load. */
export function writeChartFiles(files: readonly ChartFile[]): string {
  const dir = join(mkdtempSync(join(tmpdir(), "pulled-")), "chart")
  for (const file of files) {
    mkdirSync(dirname(join(dir, file.path)), { recursive: true })
    writeFileSync(join(dir, file.path), file.contents)
  }
  return dir
}

/** Replaces a chart's version in its Chart.yaml. */
export function withVersion(dir: string, version: string): string {
  const path = join(dir, "Chart.yaml")
  writeFileSync(path, readFileSync(path, "utf8").replace(/^version: .*$/m, `version: ${version}`))
  return dir
}
