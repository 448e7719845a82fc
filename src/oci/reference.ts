/**
 * Image addresses: where an image lives (`<registry>/<owner>/<image>`), how to reach its registry
 * (https, or plain http for localhost and when said), and a manifest digest as arguments give it.
 * Pure: every function checks a string and returns a typed value.
 */
import { check } from "../common/errors.js"
import { checkLength, checkNoUserInfo, checkPort, LIMITS, parseOwner } from "../common/names.js"
import { type RegistryEndpoint } from "./manifest.js"

/** Where images live: `<registry>/<owner>/<image>`, with how to reach the registry. */
export interface ImageRepository {
  /** `http` only for a local registry given as `http://host:port`. */
  readonly scheme: "http" | "https"
  /** The registry host (and port), never with a scheme: `ghcr.io`, `127.0.0.1:5000`. */
  readonly host: string
  /** The repository path inside the registry: `<owner>/<image>`, lower-case. */
  readonly path: string
  /** `<host>/<path>`: what goes before `:tag` in an image reference. */
  readonly address: string
}

/** A registry given as `ghcr.io`, `host:port`, `https://host` or `http://127.0.0.1:5000`. */
export function parseRegistry(value: string, argument = "registry"): { scheme: "http" | "https"; host: string } {
  checkNoUserInfo(value, argument)
  const match = /^(?:(https?):\/\/)?(([A-Za-z0-9.-]+)(?::[0-9]{1,5})?)\/?$/.exec(value)
  check(
    match !== null,
    argument,
    value,
    "is not a registry: expected a host with an optional port and http:// or https:// scheme (e.g. ghcr.io, http://127.0.0.1:5000)",
  )
  const name = match![3]!
  check(
    name.length <= LIMITS.host,
    argument,
    value,
    `is too long: its host name is ${name.length} characters, and DNS allows at most ${LIMITS.host}`,
  )
  const label = name.split(".").find((part) => part.length > LIMITS.hostLabel)
  check(
    label === undefined,
    argument,
    value,
    `has a host name part of ${label?.length} characters: DNS allows at most ${LIMITS.hostLabel} between dots`,
  )
  checkPort(match![2]!, value, argument)
  return { scheme: (match![1] as "http" | "https" | undefined) ?? "https", host: match![2]!.toLowerCase() }
}

const PATH_COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*"

const IMAGE_NAME = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`)

/** An image (package) name: OCI repository path components, lower-case (`api-gateway`, `team/api`). */
export function parseImageName(value: string, argument = "image"): string {
  checkLength(value, LIMITS.repository, argument, "an image name")
  const hint =
    value !== value.toLowerCase() && IMAGE_NAME.test(value.toLowerCase())
      ? `; registries refuse upper case, use ${JSON.stringify(value.toLowerCase())}`
      : ""
  check(
    IMAGE_NAME.test(value),
    argument,
    value,
    `is not an image name: expected lower-case letters, digits and . _ - separators, optionally in /-separated parts (e.g. api-gateway)${hint}`,
  )
  return value
}

/** `<registry>/<owner>/<image>` with the owner lower-cased, as registries require. */
export function imageRepository(registry: string, owner: string, image: string): ImageRepository {
  const { scheme, host } = parseRegistry(registry)
  const path = `${parseOwner(owner).toLowerCase()}/${parseImageName(image)}`
  const address = `${host}/${path}`
  check(
    address.length <= LIMITS.repository,
    "image",
    image,
    `is too long: with the registry and owner, the image name <registry>/<owner>/<image> is ${address.length} characters, and image references allow at most ${LIMITS.repository}`,
  )
  return { scheme, host, path, address }
}

/** Where an image lives, and how to speak to its registry when that was said. */
export interface ImageLocation {
  /** `ghcr.io/meetinity/api-gateway`: what pods pull, never with a scheme. */
  readonly address: string
  /** Given as `http://…` or `https://…`; undefined: https, or http for localhost and 127.0.0.1. */
  readonly scheme?: "http" | "https"
}

/**
 * An image repository without tag or digest: `ghcr.io/meetinity/api-gateway`, optionally with the
 * scheme to reach its registry (`http://10.0.0.5:5000/meetinity/api-gateway` for a plain-http
 * registry that is not on localhost). Lower-cased, as `publish` lower-cases the owner (GitHub
 * owners often have capitals; registries refuse them).
 */
export function parseImageLocation(value: string, argument = "image"): ImageLocation {
  checkNoUserInfo(value, argument)
  const scheme = /^(https?):\/\//i.exec(value)?.[1]?.toLowerCase() as "http" | "https" | undefined
  const address = parseImageRepositoryRef(scheme ? value.slice(scheme.length + 3) : value, argument, value)
  return scheme ? { address, scheme } : { address }
}

/** The address part of parseImageLocation (no scheme allowed). */
export function parseImageRepositoryRef(value: string, argument = "image", shown = value): string {
  const component = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*"
  const lower = value.toLowerCase()
  const ok = lower.length <= 255 && new RegExp(`^[a-z0-9.-]+(?::[0-9]{1,5})?(?:/${component})+$`).test(lower)
  const hint =
    value.includes("@") || /:[^/]*$/.test(value.replace(/^[^/]*\//, ""))
      ? "; leave the tag off, the version is set from --version"
      : value.length > 255
        ? `; it is ${value.length} characters long`
        : ""
  check(
    ok,
    argument,
    shown,
    `is not an image repository: expected registry/owner/name, without tag or digest, at most 255 characters, optionally after http:// or https:// (e.g. ghcr.io/meetinity/api-gateway)${hint}`,
  )
  // As Docker reads a reference: the first part is a registry host only when it has a '.' or a
  // ':' or is localhost; anything else would be read as a host it is not (https://meetinity/).
  const host = lower.slice(0, lower.indexOf("/"))
  checkPort(host, shown, argument)
  check(
    host.includes(".") || host.includes(":") || host === "localhost",
    argument,
    shown,
    `names no registry host: ${JSON.stringify(host)} would be read as one. Expected registry/owner/name (e.g. ghcr.io/${lower})`,
  )
  return lower
}

/** A manifest digest as `--digest` takes it: `sha256:` and 64 lower-case hex digits; empty means none. */
export function parseDigest(value: string, argument = "digest"): string | undefined {
  if (value === "") return undefined
  check(
    /^sha256:[0-9a-f]{64}$/.test(value),
    argument,
    value,
    "is not a manifest digest: expected sha256: followed by 64 lower-case hex digits (what publish printed after the @)",
  )
  return value
}

/**
 * How to reach the registry of an image address: plain HTTP for `localhost` and `127.0.0.1`
 * (with or without a port), as Docker does; HTTPS for everything else.
 */
export function endpointOf(host: string): RegistryEndpoint {
  const name = host.replace(/:[0-9]+$/, "")
  return { scheme: name === "localhost" || name === "127.0.0.1" ? "http" : "https", host }
}

/** An image reference as a pod spec names it: `<repository>[:<tag>][@<digest>]`. */
export interface ImageReference {
  /** `<host>/<path>`, lower-case; Docker Hub's short names expanded (`busybox` -> `docker.io/library/busybox`). */
  readonly repository: string
  readonly tag?: string
  readonly digest?: string
}

/** Reads an image reference as Docker and containerd do (the first part is a host only with a `.` or `:`, or localhost). */
export function parseImageReference(reference: string): ImageReference {
  const [name, digest] = reference.split("@", 2) as [string, string | undefined]
  const slash = name.lastIndexOf("/")
  const colon = name.lastIndexOf(":")
  const tag = colon > slash ? name.slice(colon + 1) : undefined
  let repository = (colon > slash ? name.slice(0, colon) : name).toLowerCase()
  const first = repository.split("/")[0]!
  const hasHost = repository.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")
  if (!hasHost) repository = `docker.io/${repository.includes("/") ? repository : `library/${repository}`}`
  return { repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) }
}

/**
 * Does a pod's image reference name exactly this image: the same repository and, when it pins a
 * digest, this digest (a tag alone must be this version)? Comparing the digest alone would take
 * `docker.io/library/busybox:x@<digest>` for the published image.
 */
export function isImage(reference: string, image: { repository: string; version: string; digest: string }): boolean {
  const ref = parseImageReference(reference)
  if (ref.repository !== image.repository.toLowerCase()) return false
  if (ref.digest) return ref.digest === image.digest
  return ref.tag === image.version
}
