/** The helm and kubectl binaries the tests run (ci/tools.mjs puts them in .cache/tools). */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const dir = resolve(".cache", "tools")

function tool(name: "helm" | "kubectl"): string {
  const path = join(dir, name)
  if (!existsSync(path)) execFileSync("npx", ["zx", "ci/tools.mjs"], { stdio: "inherit" })
  return path
}

export const helmPath = () => tool("helm")
export const kubectlPath = () => tool("kubectl")

export interface RunResult {
  status: number
  stdout: string
  stderr: string
}

/**
 * Runs helm offline: the in-memory storage driver and no cluster. The driver starts empty, or
 * with `releases` (Helm release objects, as `--output json` prints them).
 */
export function helm(args: string[], releases: object[] = []): RunResult {
  const home = mkdtempSync(join(tmpdir(), "helm-"))
  const memory = join(home, "memory-driver-data")
  writeFileSync(memory, releases.length > 0 ? JSON.stringify(releases) : "")
  const result = spawnSync(helmPath(), args, {
    encoding: "utf8",
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      HELM_DRIVER: "memory",
      HELM_MEMORY_DRIVER_DATA: memory,
      HELM_CACHE_HOME: join(home, "cache"),
      HELM_CONFIG_HOME: join(home, "config"),
      HELM_DATA_HOME: join(home, "data"),
      KUBECONFIG: join(home, "no-kubeconfig"),
    },
  })
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr }
}

export function kubectl(args: string[]): RunResult {
  const result = spawnSync(kubectlPath(), args, { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir() } })
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr }
}

/**
 * The release object real Helm stores after `helm upgrade --install` with these arguments
 * (without the leading "helm"): run with --dry-run=client, then marked deployed.
 */
export function installedRelease(upgradeArgs: string[]): object {
  const result = helm([...upgradeArgs, "--dry-run=client"])
  if (result.status !== 0) throw new Error(`helm dry-run failed: ${result.stderr}`)
  const release = JSON.parse(result.stdout.slice(result.stdout.indexOf("{"))) as { info: { status: string } }
  release.info.status = "deployed"
  return release
}
