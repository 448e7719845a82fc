/**
 * Starts a real zot registry (v1.4.3, minimal build, from ci/sign-tools.mjs: .cache/sign/bin/zot)
 * on a free loopback port with its own storage directory, like registry.ts does for Debian's
 * docker-registry. Unlike distribution 2.8, zot answers the OCI referrers API
 * (`GET /v2/<name>/referrers/<digest>` → an OCI image index), so clients that write a manifest
 * with a `subject` rely on the registry to list it and do not keep a `sha256-<hex>` fallback tag.
 *
 * zot v1.4.3 implements the referrers API of image-spec v1.1.0-rc2, not of the final 1.1.0:
 * each descriptor's `artifactType` in the answer is the referrer's `config.mediaType` (the
 * manifest's own `artifactType` field is not read), and `?artifactType=` filters on that too.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { RunningRegistry } from "./registry.js"
import { freePort } from "./registry.js"
import { signTool } from "./sign-tools.js"

export async function startZot(): Promise<RunningRegistry> {
  const zot = signTool("zot")
  const dir = mkdtempSync(join(tmpdir(), "zot-"))
  const port = await freePort()
  const host = `127.0.0.1:${port}`
  const config = join(dir, "config.json")
  writeFileSync(
    config,
    JSON.stringify({
      distSpecVersion: "1.0.1-dev",
      storage: { rootDirectory: join(dir, "data"), gc: false, dedupe: false },
      http: { address: "127.0.0.1", port: String(port) },
      log: { level: "error" },
    }),
  )
  const child: ChildProcess = spawn(zot, ["serve", config], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr?.on("data", (chunk) => (stderr += String(chunk)))
  const url = `http://${host}`
  const deadline = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`zot exited with ${child.exitCode}: ${stderr}`)
    try {
      const response = await fetch(`${url}/v2/`)
      if (response.status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`zot did not answer on ${url} within 15 s: ${stderr}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    url,
    host,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r))
        child.kill("SIGTERM")
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
