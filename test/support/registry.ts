/**
 * Starts a real CNCF distribution registry (`docker-registry`, Debian's package) on a free
 * loopback port with its own storage directory, deletes enabled. `.ci/run` installs it.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface RunningRegistry {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** `127.0.0.1:<port>` */
  readonly host: string
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0))
    })
  })
}

export async function startRegistry(): Promise<RunningRegistry> {
  const dir = mkdtempSync(join(tmpdir(), "registry-"))
  const config = join(dir, "config.yml")
  writeFileSync(
    config,
    "version: 0.1\nstorage:\n  filesystem: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:5000\n",
  )
  const port = await freePort()
  const host = `127.0.0.1:${port}`
  const child: ChildProcess = spawn("docker-registry", ["serve", config], {
    env: {
      ...process.env,
      REGISTRY_STORAGE_DELETE_ENABLED: "true",
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, "data"),
      REGISTRY_HTTP_ADDR: host,
      REGISTRY_LOG_LEVEL: "error",
    },
    stdio: ["ignore", "ignore", "pipe"],
  })
  let stderr = ""
  child.stderr?.on("data", (chunk) => (stderr += String(chunk)))
  const url = `http://${host}`
  const deadline = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr}`)
    try {
      const response = await fetch(`${url}/v2/`)
      if (response.status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`docker-registry did not answer on ${url} within 15 s: ${stderr}`)
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
