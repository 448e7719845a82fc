/** The cosign, syft and zot binaries the signing tests run (ci/sign-tools.mjs builds them into .cache/sign/bin). */
import { execFile, execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { join, resolve } from "node:path"
import type { RunResult } from "./tools.js"

const BIN = resolve(".cache", "sign", "bin")

/** The path of a built tool; builds the missing ones first (cold: many minutes, see ci/sign-tools.mjs). */
export function signTool(name: "cosign" | "syft" | "zot"): string {
  const path = join(BIN, name)
  if (!existsSync(path)) execFileSync("npx", ["zx", "ci/sign-tools.mjs"], { stdio: "inherit" })
  return path
}

/**
 * A dead proxy for every host but the loopback: a tool that tries to reach the network (a TUF
 * refresh, a transparency log) fails at once instead of hanging, and says so in its stderr.
 */
export const OFFLINE_ENV = {
  HTTPS_PROXY: "http://127.0.0.1:9",
  HTTP_PROXY: "http://127.0.0.1:9",
  NO_PROXY: "127.0.0.1,localhost",
} as const

/** Runs a tool without blocking the event loop: exit code, stdout and stderr, never a throw. */
export function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeout = 120_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: "utf8", timeout, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error
        ? typeof (error as { code?: unknown }).code === "number"
          ? (error as { code: number }).code
          : -1
        : 0
      resolve({ status: code, stdout, stderr })
    })
  })
}
