/**
 * Release versions: the pure rules that turn a git ref and a commit into image tags
 * (`release/v1.4.2` -> `v1.4.2`, a commit -> `sha-0123abc`), and the tag classes retention reads.
 */
import semver from "semver"

import { check, InvalidArgumentError } from "./errors.js"
import { checkLength, LIMITS } from "./names.js"

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
