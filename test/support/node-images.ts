/**
 * Tiny runnable images for the real node (support/node.ts): one gzip'd tar layer built here from a
 * static binary of this machine (Debian's busybox-static, or the pause binary ci/cluster-tools.mjs
 * compiles), pushed over the distribution API with OciPusher. There are no base images to pull
 * here, and none are needed: a static binary is the whole root filesystem.
 */
import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { gzipSync } from "node:zlib"

import { OCI_MANIFEST, OciPusher } from "./oci.js"

export interface LayerEntry {
  /** Path inside the image, without a leading slash; a directory ends with "/". */
  path: string
  mode?: number
  content?: Buffer | string
  /** Makes the entry a symbolic link to this target. */
  link?: string
}

export interface ImageSpec {
  entries: LayerEntry[]
  entrypoint?: string[]
  cmd?: string[]
  env?: string[]
  labels?: Record<string, string>
}

export interface PushedImage {
  /** The manifest's digest: what a pod's imageID names. */
  digest: string
  /** The layer's digest (compressed) and its diff_id (uncompressed). */
  layer: string
  diffId: string
}

const sha256 = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

/** One ustar header block. Names stay under 100 bytes here, so no prefix or PAX header is needed. */
function header(entry: LayerEntry, size: number): Buffer {
  const block = Buffer.alloc(512)
  const field = (offset: number, length: number, value: string) => block.write(value, offset, length, "utf8")
  const octal = (offset: number, length: number, value: number) =>
    field(offset, length, value.toString(8).padStart(length - 1, "0") + "\0")
  if (Buffer.byteLength(entry.path) >= 100) throw new Error(`node-images: path too long for ustar: ${entry.path}`)
  const type = entry.link !== undefined ? "2" : entry.path.endsWith("/") ? "5" : "0"
  field(0, 100, entry.path)
  octal(100, 8, entry.mode ?? (type === "0" ? 0o644 : 0o755))
  octal(108, 8, 0) // uid
  octal(116, 8, 0) // gid
  octal(124, 12, size)
  octal(136, 12, 0) // mtime: the epoch, so the same content is the same digest
  field(148, 8, "        ") // checksum: spaces while it is computed
  field(156, 1, type)
  if (entry.link !== undefined) field(157, 100, entry.link)
  field(257, 6, "ustar\0")
  field(263, 2, "00")
  field(265, 32, "root")
  field(297, 32, "root")
  let sum = 0
  for (const byte of block) sum += byte
  field(148, 8, sum.toString(8).padStart(6, "0") + "\0 ")
  return block
}

/** An uncompressed tar of the entries (directories first as given; no parent directories implied). */
export function tar(entries: LayerEntry[]): Buffer {
  const parts: Buffer[] = []
  for (const entry of entries) {
    const content =
      entry.link !== undefined || entry.path.endsWith("/")
        ? Buffer.alloc(0)
        : Buffer.isBuffer(entry.content)
          ? entry.content
          : Buffer.from(entry.content ?? "")
    parts.push(header(entry, content.length), content, Buffer.alloc((512 - (content.length % 512)) % 512))
  }
  parts.push(Buffer.alloc(1024))
  return Buffer.concat(parts)
}

/** Pushes a one-layer linux/amd64 image as repository:tag; `headers` carry the registry's credentials. */
export async function pushImage(
  registryUrl: string,
  repository: string,
  tag: string,
  spec: ImageSpec,
  headers: Record<string, string> = {},
): Promise<PushedImage> {
  const pusher = new OciPusher(registryUrl, headers)
  const raw = tar(spec.entries)
  const diffId = sha256(raw)
  const layer = await pusher.blob(repository, gzipSync(raw, { level: 6 }))
  const config = await pusher.blob(
    repository,
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: {
        Env: spec.env ?? ["PATH=/bin"],
        ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
        ...(spec.cmd ? { Cmd: spec.cmd } : {}),
        ...(spec.labels ? { Labels: spec.labels } : {}),
      },
      rootfs: { type: "layers", diff_ids: [diffId] },
    }),
  )
  const manifest = await pusher.manifest(repository, tag, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer.digest, size: layer.size }],
  })
  return { digest: manifest.digest, layer: layer.digest, diffId }
}

/** Debian's busybox-static (`.ci/run` installs it): a static binary, so it runs in an image of its own. */
export function busyboxBinary(): Buffer {
  for (const path of ["/usr/bin/busybox", "/bin/busybox"]) {
    if (existsSync(path)) return readFileSync(path)
  }
  throw new Error("node-images: busybox is not installed (Debian's busybox-static; .ci/run installs it)")
}

/**
 * A busybox image: /bin/busybox with `sh` and the applets named linked to it, /www/index.html, and
 * `cmd` as its command.
 */
export function busyboxImage(cmd: string[], labels: Record<string, string> = {}): ImageSpec {
  const applets = ["sh", "httpd", "sleep", "echo", "cat", "ls"]
  return {
    entries: [
      { path: "bin/" },
      { path: "bin/busybox", mode: 0o755, content: busyboxBinary() },
      ...applets.map((name) => ({ path: `bin/${name}`, link: "busybox" })),
      { path: "www/" },
      { path: "www/index.html", content: "meetinity test page\n" },
      { path: "tmp/", mode: 0o1777 },
    ],
    cmd,
    labels,
  }
}

/** The pause image: Kubernetes' own pause.c, compiled static by ci/cluster-tools.mjs, as /pause. */
export function pauseImage(bin: string): ImageSpec {
  const file = join(bin, "pause")
  if (!existsSync(file)) throw new Error(`node-images: ${file} is missing; run npx zx ci/cluster-tools.mjs`)
  return { entries: [{ path: "pause", mode: 0o755, content: readFileSync(file) }], entrypoint: ["/pause"] }
}
