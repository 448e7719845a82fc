/**
 * Release naming: the pure rules that turn a git ref and a commit into image tags, and that
 * check every name that ends up in an image address. Everything here is a plain function of its
 * input; the Dagger functions parse their arguments here once and pass typed values on.
 */
import semver from "semver"

import { check, InvalidArgumentError } from "./errors.js"

/**
 * The longest value each name may have, checked before its pattern, so a runaway value is
 * refused with its length instead of reaching the engine or a registry.
 */
export const LIMITS = {
  /** An image tag (`vX.Y.Z-pre`): the OCI distribution spec's tag grammar allows 128 characters. */
  tag: 128,
  /** A GitHub login (user or organisation). */
  owner: 39,
  /**
   * An image name: the reference grammar of Docker, containerd and skopeo caps the whole name,
   * `<registry>/<owner>/<image>`, at 255 characters (the registry itself caps `<owner>/<image>`).
   */
  repository: 255,
  /** A registry host name (without its port): DNS allows 253 characters, 63 per label. */
  host: 253,
  hostLabel: 63,
  /** A Dockerfile path: Linux's PATH_MAX. */
  dockerfile: 4096,
  /** One `KEY=VALUE` build argument, in UTF-8 bytes: the longest environment string Linux passes to a `RUN` step (MAX_ARG_STRLEN, 128 KiB with its NUL). */
  buildArgBytes: 131_071,
  /** How many build arguments one call may give. */
  buildArgs: 256,
  /** One `os/arch[/variant]` platform. */
  platform: 64,
  /** How many platforms one build may have. */
  platforms: 16,
  /** A registry user name. */
  username: 255,
  /** A repository URL for the `org.opencontainers.image.source` label. */
  url: 2048,
} as const

/** Refuses a string longer than `max` characters, saying how long it is (the quote is shortened). */
export function checkLength(value: string, max: number, argument: string, what: string): void {
  check(
    value.length <= max,
    argument,
    value,
    `is too long: ${value.length} characters, expected ${what} of at most ${max}`,
  )
}

/** A semantic version taken from a `release/vX.Y.Z` ref, e.g. `v1.4.2` or `v2.0.0-rc.1`. */
export interface ReleaseVersion {
  /** The image tag, `v` plus the version: `v1.4.2`. */
  readonly tag: string
  /** True for pre-releases such as `v2.0.0-rc.1`. */
  readonly prerelease: boolean
}

/** The immutable build tag of a commit: `sha-` plus the first 7 hex digits, lower-case. */
export type BuildTag = `sha-${string}`

const REF_PREFIX = "refs/tags/"
const RELEASE_PREFIX = "release/"
const REF_EXPECTED =
  "is not a release ref: expected release/vX.Y.Z or refs/tags/release/vX.Y.Z (e.g. release/v1.4.2, release/v2.0.0-rc.1)"

/** Parses `vX.Y.Z[-pre]`: strict semver, no build metadata, nothing around it, at most 128 characters (an image tag). */
function parseVersionText(text: string): ReleaseVersion | undefined {
  if (!text.startsWith("v") || text.length > LIMITS.tag) return undefined
  const parsed = semver.parse(text.slice(1))
  if (!parsed || parsed.build.length > 0 || parsed.version !== text.slice(1)) return undefined
  return { tag: text, prerelease: parsed.prerelease.length > 0 }
}

/**
 * The version of a release ref: `release/v1.4.2` or `refs/tags/release/v1.4.2` -> `v1.4.2`.
 * Fails on anything else, quoting the value.
 */
export function parseReleaseRef(ref: string, argument = "ref"): ReleaseVersion {
  const withoutPrefix = ref.startsWith(REF_PREFIX) ? ref.slice(REF_PREFIX.length) : ref
  const text = withoutPrefix.startsWith(RELEASE_PREFIX) ? withoutPrefix.slice(RELEASE_PREFIX.length) : undefined
  if (text !== undefined && text.length > LIMITS.tag) {
    throw new InvalidArgumentError(
      argument,
      ref,
      `is too long: its version is ${text.length} characters, and an image tag is at most ${LIMITS.tag}`,
    )
  }
  const version = text === undefined ? undefined : parseVersionText(text)
  if (!version) throw new InvalidArgumentError(argument, ref, REF_EXPECTED)
  return version
}

/** A version tag given on its own (`helmDeploy --version`): `vX.Y.Z` or `vX.Y.Z-pre`. */
export function parseVersionTag(value: string, argument = "version"): ReleaseVersion {
  checkLength(value, LIMITS.tag, argument, "an image tag")
  const version = parseVersionText(value)
  if (!version) {
    throw new InvalidArgumentError(
      argument,
      value,
      "is not a version tag: expected vX.Y.Z or vX.Y.Z-pre (e.g. v1.4.2, v2.0.0-rc.1)",
    )
  }
  return version
}

/** The build tag of a commit SHA of 7 to 40 hex digits, either case: `sha-0123abc`. */
export function parseSha(sha: string, argument = "sha"): BuildTag {
  check(
    /^[0-9a-fA-F]{7,40}$/.test(sha),
    argument,
    sha,
    "is not a commit SHA: expected 7 to 40 hexadecimal characters (e.g. 0123abc or a full 40-character SHA)",
  )
  return `sha-${sha.slice(0, 7).toLowerCase()}`
}

/** The two tags of a release, version tag first: `["v1.4.2", "sha-0123abc"]`. */
export function releaseTags(ref: string, sha: string): [string, BuildTag] {
  return [parseReleaseRef(ref).tag, parseSha(sha)]
}

/** Tag classes used by retention. `sha-` tags may be 7 to 40 hex (docker/metadata-action). */
export const BUILD_TAG = /^sha-[0-9a-f]{7,40}$/
/** A semantic-version tag such as `v1.4.2` or `v2.0.0-rc.1` (the `v` is optional, as metadata-action allows). */
export function isVersionTag(tag: string): boolean {
  const text = tag.startsWith("v") ? tag : `v${tag}`
  return parseVersionText(text) !== undefined
}

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
  return { scheme: (match![1] as "http" | "https" | undefined) ?? "https", host: match![2]!.toLowerCase() }
}

/** A GitHub login (user or organisation): letters, digits and single hyphens, at most 39. */
export function parseOwner(value: string, argument = "owner"): string {
  checkLength(value, LIMITS.owner, argument, "a GitHub user or organisation name")
  check(
    /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/.test(value),
    argument,
    value,
    "is not a GitHub user or organisation name: expected letters, digits and single hyphens, at most 39 characters (e.g. meetinity)",
  )
  return value
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

/** A build platform such as `linux/amd64` or `linux/arm/v7`. */
export function parsePlatforms(values: readonly string[], argument = "platforms"): string[] {
  check(values.length > 0, argument, values, "is empty: expected at least one platform (e.g. linux/amd64)")
  check(
    values.length <= LIMITS.platforms,
    argument,
    values,
    `has ${values.length} platforms: expected at most ${LIMITS.platforms}`,
  )
  for (const value of values) {
    checkLength(value, LIMITS.platform, argument, "a platform")
    check(
      /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/.test(value),
      argument,
      value,
      "is not a platform: expected os/arch or os/arch/variant (e.g. linux/amd64, linux/arm64, linux/arm/v7)",
    )
  }
  const seen = new Set<string>()
  for (const value of values) {
    check(!seen.has(value), argument, value, "is listed twice: expected each platform once")
    seen.add(value)
  }
  return [...values]
}

/** `KEY=VALUE` build arguments, split at the first `=`. */
export function parseBuildArgs(values: readonly string[], argument = "buildArgs"): { name: string; value: string }[] {
  check(
    values.length <= LIMITS.buildArgs,
    argument,
    values,
    `has ${values.length} build arguments: expected at most ${LIMITS.buildArgs}`,
  )
  return values.map((entry) => {
    const bytes = Buffer.byteLength(entry, "utf8")
    check(
      bytes <= LIMITS.buildArgBytes,
      argument,
      entry,
      `is too long: ${bytes} bytes, expected a KEY=VALUE of at most ${LIMITS.buildArgBytes} bytes (the longest environment string Linux passes to a RUN step)`,
    )
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(entry)
    check(
      match !== null,
      argument,
      entry,
      "is not a build argument: expected KEY=VALUE with KEY made of letters, digits and _ (e.g. NODE_ENV=production)",
    )
    return { name: match![1]!, value: match![2]! }
  })
}

/** A Dockerfile path inside the source directory. */
export function parseDockerfile(value: string, argument = "dockerfile"): string {
  checkLength(value, LIMITS.dockerfile, argument, "a Dockerfile path")
  check(
    value.trim() !== "" && !value.startsWith("/") && !value.split("/").includes(".."),
    argument,
    value,
    "is not a Dockerfile path: expected a path relative to the source directory, without .. (e.g. Dockerfile, services/api/Dockerfile)",
  )
  return value
}

/** A registry or GitHub user name: not empty, no whitespace, no colon (it would break basic auth). */
export function parseUsername(value: string, argument = "username"): string {
  checkLength(value, LIMITS.username, argument, "a user name")
  check(
    /^[^\s:]+$/.test(value),
    argument,
    value,
    "is not a user name: expected a non-empty name without spaces or colons (e.g. the GitHub user that owns the token)",
  )
  return value
}
