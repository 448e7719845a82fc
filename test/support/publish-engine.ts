/**
 * A stand-in engine for publish's own work, answered by real programs: the build is a real OCI
 * image (support/busybox-image.ts, a busybox one) that `publish` pushes into a real registry with
 * skopeo, byte for byte; the Dockerfile is read from the source directory on disk; a base image
 * resolves (`imageRef`) to that image's digest, as a registry mirror holding it as busybox:1.35.0
 * would answer; and syft's container runs the real syft over the image's OCI archive.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"

import { SYFT_IMAGE } from "../../src/publish/inputs.js"
import { type BuiltImage, pushImage } from "./busybox-image.js"
import { argValue, type Query } from "./dagger.js"
import { syft } from "./syft.js"

export interface PublishEngineOptions {
  /** The image every build produces. */
  readonly image: BuiltImage
  /** Source directories by the ID the test hands the module. */
  readonly sources: Record<string, string>
  /** The registry host:port the module's pushes go to (plain http). */
  readonly registryHost: string
}

/** What the stand-in did: every push and every syft run. */
export interface PublishEngineLog {
  readonly pushes: string[]
  readonly syftRuns: number
}

export function publishEngine(options: PublishEngineOptions) {
  const log = { pushes: [] as string[], syftRuns: 0 }
  const answer = async (query: Query): Promise<unknown> => {
    const first = query.chain[0]!
    const last = query.chain.at(-1)!
    if (query.leaf === "publish") {
      const address = argValue(last.args, "address") as string
      const tag = address.slice(address.lastIndexOf(":") + 1)
      const repository = address.slice(address.indexOf("/") + 1, address.lastIndexOf(":"))
      log.pushes.push(address)
      return `${address}@${pushImage(options.image, options.registryHost, repository, tag)}`
    }
    // The Dockerfile, read from the source directory.
    if (query.leaf === "contents" && first.field === "loadDirectoryFromID" && query.chain[1]?.field === "file") {
      const dir = options.sources[argValue(first.args, "id") as string]
      if (!dir) return undefined
      return readFileSync(join(dir, argValue(query.chain[1].args, "path") as string), "utf8")
    }
    // A base image, resolved as a mirror holding the test's image under its name would resolve it.
    if (query.leaf === "imageRef") {
      const reference = argValue(query.chain.find((c) => c.field === "from")!.args, "address") as string
      const named = reference.includes("/") ? reference : `docker.io/library/${reference}`
      return `${named.replace(/@sha256:[0-9a-f]{64}$/, "")}@${options.image.digest}`
    }
    // syft, in its pinned container, over the image's OCI archive.
    const from = query.chain.find((c) => c.field === "from")
    if (query.leaf === "stdout" && from && argValue(from.args, "address") === SYFT_IMAGE) {
      const args = argValue(query.chain.find((c) => c.field === "withExec")!.args, "args") as string[]
      if (args[0] !== "/syft" || !args.includes("oci-archive:/work/image.tar"))
        throw new Error(`publish engine: syft ran as ${args.join(" ")}`)
      log.syftRuns++
      const ran = await syft(
        args.slice(1).map((a) => (a === "oci-archive:/work/image.tar" ? `oci-archive:${options.image.archive}` : a)),
      )
      if (ran.status !== 0) throw new Error(`syft failed: ${ran.stderr}`)
      return ran.stdout
    }
    return undefined
  }
  return { answer, log: log as PublishEngineLog }
}
