/**
 * A tiny but real one-layer OCI image made here, without base images or a daemon: Debian's
 * statically linked busybox (package busybox-static, which `.ci/run` installs) as /bin/busybox,
 * that package's stanza from the machine's dpkg database as /var/lib/dpkg/status and the
 * machine's /etc/os-release, so an SBOM tool finds a Debian package and a binary in it.
 * Written as an OCI image layout directory and as an `oci-archive` tarball of that layout (the
 * shape `dagger export` and `skopeo copy oci-archive:` use); pushed with skopeo.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { copyFileSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export const BUSYBOX_PACKAGE = "busybox-static"

export interface BuiltImage {
  /** OCI image layout directory (`oci:<layout>:latest` for skopeo). */
  readonly layout: string
  /** The same layout as one tar (`oci-archive:<archive>`). */
  readonly archive: string
  /** Digest of the image manifest, as a registry will serve it when pushed unchanged. */
  readonly digest: string
  /** Size of the image manifest in bytes. */
  readonly size: number
  /** busybox-static's version in the machine's dpkg database (e.g. `1:1.35.0-4+deb12u1+b1`). */
  readonly packageVersion: string
  /** `<ID>-<VERSION_ID>` of the os-release copied in (e.g. `debian-12`), as syft's purls name it. */
  readonly distro: string
}

const sha256 = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

/** Builds the image under `dir` (which must exist and be empty). */
/** `note`: a file etc/note with this text, for another image of the same packages (another digest). */
export function buildBusyboxImage(dir: string, note?: string): BuiltImage {
  const stanza = execFileSync("dpkg-query", ["-s", BUSYBOX_PACKAGE], { encoding: "utf8" })
  const packageVersion = /^Version: (.+)$/m.exec(stanza)?.[1]
  if (!packageVersion || !/^Status: install ok installed$/m.test(stanza))
    throw new Error(`${BUSYBOX_PACKAGE} is not installed (dpkg-query -s said: ${stanza})`)

  const rootfs = join(dir, "rootfs")
  for (const sub of ["bin", "etc", "var/lib/dpkg"]) mkdirSync(join(rootfs, sub), { recursive: true })
  copyFileSync("/bin/busybox", join(rootfs, "bin", "busybox"))
  const osRelease = readFileSync(realpathSync("/etc/os-release"), "utf8")
  writeFileSync(join(rootfs, "etc", "os-release"), osRelease)
  const field = (key: string) => new RegExp(`^${key}="?([^"\\n]*)"?$`, "m").exec(osRelease)?.[1] ?? ""
  const distro = `${field("ID")}-${field("VERSION_ID")}`
  writeFileSync(join(rootfs, "var/lib/dpkg/status"), `${stanza.trimEnd()}\n\n`)
  if (note !== undefined) writeFileSync(join(rootfs, "etc", "note"), note)

  // A reproducible layer: sorted names, one mtime, root owner.
  const tar = execFileSync(
    "tar",
    [
      "--sort=name",
      "--mtime=@0",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "-C",
      rootfs,
      "-cf",
      "-",
      "bin",
      "etc",
      "var",
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  )
  const layer = execFileSync("gzip", ["-n", "-c"], { input: tar, maxBuffer: 64 * 1024 * 1024 })

  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Entrypoint: ["/bin/busybox"], Cmd: ["sh"] },
      rootfs: { type: "layers", diff_ids: [sha256(tar)] },
    }),
  )
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(layer), size: layer.length }],
    }),
  )
  const digest = sha256(manifest)

  const layout = join(dir, "layout")
  const blobs = join(layout, "blobs", "sha256")
  mkdirSync(blobs, { recursive: true })
  for (const blob of [layer, config, manifest]) writeFileSync(join(blobs, sha256(blob).slice(7)), blob)
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }))
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest,
          size: manifest.length,
          annotations: { "org.opencontainers.image.ref.name": "latest" },
        },
      ],
    }),
  )
  const archive = join(dir, "image.tar")
  // Members named without a leading "./": syft (stereoscope) refuses an entry "./" as a path traversal.
  execFileSync("tar", [
    "--sort=name",
    "--mtime=@0",
    "--owner=0",
    "--group=0",
    "-C",
    layout,
    "-cf",
    archive,
    "blobs",
    "index.json",
    "oci-layout",
  ])
  return { layout, archive, digest, size: manifest.length, packageVersion, distro }
}

/**
 * Pushes the layout to `host/repository:tag` on a plain-http registry, byte for byte (skopeo
 * refuses, rather than rewrites, a manifest it would have to change). Returns the pushed digest.
 */
export function pushImage(image: BuiltImage, host: string, repository: string, tag: string): string {
  execFileSync(
    "skopeo",
    [
      "copy",
      "--quiet",
      "--preserve-digests",
      "--dest-tls-verify=false",
      `oci:${image.layout}:latest`,
      `docker://${host}/${repository}:${tag}`,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  )
  return image.digest
}

/** The manifest (or index) a plain-http registry serves for `reference`, raw, via skopeo. */
export function rawManifest(host: string, repository: string, reference: string): string {
  const separator = reference.startsWith("sha256:") ? "@" : ":"
  return execFileSync(
    "skopeo",
    ["inspect", "--raw", "--tls-verify=false", `docker://${host}/${repository}${separator}${reference}`],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  )
}
