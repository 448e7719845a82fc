/** The helm and kubectl binaries the tests run (ci/tools.mjs puts them in .cache/tools). */
import { execFile, execFileSync, spawnSync } from "node:child_process"
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
  const result = spawnSync(helmPath(), args, { encoding: "utf8", env: helmEnv(releases) })
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr }
}

function helmEnv(releases: object[], kubeconfig?: string): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(tmpdir(), "helm-"))
  const memory = join(home, "memory-driver-data")
  writeFileSync(memory, releases.length > 0 ? JSON.stringify(releases) : "")
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    HELM_DRIVER: "memory",
    HELM_MEMORY_DRIVER_DATA: memory,
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_DATA_HOME: join(home, "data"),
    KUBECONFIG: kubeconfig ?? join(home, "no-kubeconfig"),
  }
}

/**
 * helm as `helm()` runs it, without blocking the event loop, and with a kubeconfig: an upgrade
 * of a release the in-memory driver holds asks the cluster for its version and API groups even
 * with --dry-run=client, and the Kubernetes API stand-in answering that lives in this process.
 */
export function helmAsync(args: string[], releases: object[], kubeconfig: string): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      helmPath(),
      args,
      { encoding: "utf8", timeout: 30_000, env: helmEnv(releases, kubeconfig) },
      (error, stdout, stderr) => {
        const code = error
          ? typeof (error as { code?: unknown }).code === "number"
            ? (error as { code: number }).code
            : -1
          : 0
        resolve({ status: code, stdout, stderr })
      },
    )
  })
}

export function kubectl(args: string[]): RunResult {
  const result = spawnSync(kubectlPath(), args, {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir() },
  })
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
