/**
 * What `publish` does, decided from what the registry holds before anything is built: reuse an
 * image that is already there, build, or refuse. Pure: the registry is read by the adapter in
 * `registry.ts`, which hands the result here, and `run.ts` carries out the decision. Neither tag
 * of a release ever moves: a tag that exists is only ever read, and a missing one is written at
 * the digest of the image the other tag names, or of the new build.
 */
import { INDEX_MEDIA_TYPES, type Manifest } from "../oci/manifest.js"
import { formatPlatform, listedPlatforms, parsePlatform, type Platform, platformMatches } from "../oci/platform.js"

/** The config label that names the commit an image was built from; publish sets it. */
export const REVISION_LABEL = "org.opencontainers.image.revision"

/** What one tag names in the registry, as publish reads it. */
export interface TagState {
  readonly digest: string
  /** The image config's `org.opencontainers.image.revision` (the first platform's, for an index); undefined when absent. */
  readonly revision?: string
  /** The platforms the image holds that the registry really serves (an index's children are checked). */
  readonly platforms: readonly Platform[]
}

/** The two tags of a release in the registry; a missing tag is undefined. */
export interface RegistryState {
  readonly version?: TagState
  readonly build?: TagState
}

/** The release being published: its two tags, the commit and the platforms asked for. */
export interface PublishTarget {
  /** `<registry>/<owner>/<image>`, for messages. */
  readonly address: string
  readonly versionTag: string
  readonly buildTag: string
  /** The commit SHA as given (7 to 40 hex), lower-case. */
  readonly sha: string
  readonly platforms: readonly string[]
}

/** Which tag of a release. */
export type ReleaseTag = "version" | "build"

/**
 * - `reuse`: the image at `digest` is this commit's build; write the tags in `write` (none when
 *   both are there already) at that digest; build nothing.
 * - `build`: neither tag exists; build, push the build tag, then write the version tag.
 * - `refuse`: nothing may be pushed; `reason` says why, naming the tag, digest and commit (the
 *   adapter adds what it had done: nothing, or a build it does not push).
 */
export type PublishDecision =
  | {
      readonly action: "reuse"
      readonly digest: string
      readonly write: readonly ReleaseTag[]
      readonly reason: string
    }
  | { readonly action: "build" }
  | { readonly action: "refuse"; readonly reason: string }

/** The OCI label that names the version an image was built for (set at build time; a reused build keeps it). */
export const VERSION_LABEL = "org.opencontainers.image.version"

/**
 * Does a revision label name this commit? Undefined when there is no label. The label and the
 * SHA given may be of different lengths (a short SHA given once, the full one now): one must
 * start with the other, and the shorter must still be a commit SHA (7 hex or more).
 */
export function sameCommit(revision: string | undefined, sha: string): boolean | undefined {
  const label = revision?.trim().toLowerCase()
  if (!label) return undefined
  const [shorter, longer] = label.length <= sha.length ? [label, sha] : [sha, label]
  return /^[0-9a-f]{7,}$/.test(shorter) && longer.startsWith(shorter)
}

/** The platforms asked for that the image does not hold. */
export function missingFrom(state: TagState, platforms: readonly string[]): string[] {
  return platforms.filter((wanted) => !state.platforms.some((have) => platformMatches(have, parsePlatform(wanted))))
}

const holds = (state: TagState) =>
  state.platforms.map(formatPlatform).join(", ") || "no platform the registry still serves"

const commitOf = (state: TagState) =>
  state.revision?.trim()
    ? `commit ${state.revision.trim()}`
    : `an unknown commit (its image has no ${REVISION_LABEL} label)`

/**
 * The decision, from the registry's state alone:
 * 1. The version tag exists. It is this commit's build when its revision label names this commit,
 *    or, without a label, when the build tag names the same digest. Then: every platform asked
 *    for must be in it, and the build tag must name it too (written when missing); nothing is
 *    built. From another commit (or an unknown one): refused.
 * 2. Only the build tag exists (a run that stopped half-way): reused when it is this commit's
 *    (its label, when it has one, agrees) and holds every platform asked for; the version tag is
 *    written at its digest. Otherwise refused: a build tag never moves.
 * 3. Neither exists: build.
 */
export function decidePublish(target: PublishTarget, state: RegistryState): PublishDecision {
  const { version, build } = state
  const versionRef = `${target.address}:${target.versionTag}`
  const buildRef = `${target.address}:${target.buildTag}`
  if (version) {
    const labelled = sameCommit(version.revision, target.sha)
    const ours = labelled ?? build?.digest === version.digest
    if (!ours) {
      return {
        action: "refuse",
        reason:
          `${versionRef} already exists at ${version.digest}, built from ${commitOf(version)}; this is commit ${target.sha}. ` +
          `Version tags never move: release this commit under a new version.`,
      }
    }
    const missing = missingFrom(version, target.platforms)
    if (missing.length > 0) {
      return {
        action: "refuse",
        reason:
          `${versionRef} was published from this commit at ${version.digest} without ${missing.join(", ")} (it holds ${holds(version)}). ` +
          `Version tags never move: publish the platforms it has, or release a new version with all of them.`,
      }
    }
    if (build && build.digest !== version.digest) {
      return {
        action: "refuse",
        reason:
          `the two tags of this release name different images: ${versionRef} is ${version.digest} and ${buildRef} is ${build.digest}. ` +
          `Neither tag is moved: delete the package version that carries ${target.buildTag} (it is not the released image), then run publish again to put ${target.buildTag} back at ${version.digest}.`,
      }
    }
    return build
      ? {
          action: "reuse",
          digest: version.digest,
          write: [],
          reason: `${versionRef} and ${target.buildTag} already name this commit's build ${version.digest}: nothing to build or push`,
        }
      : {
          action: "reuse",
          digest: version.digest,
          write: ["build"],
          reason: `${versionRef} already names this commit's build ${version.digest}; ${target.buildTag} was missing and is written there: nothing to build`,
        }
  }
  if (build) {
    if (sameCommit(build.revision, target.sha) === false) {
      return {
        action: "refuse",
        reason:
          `${buildRef} already exists at ${build.digest}, built from commit ${build.revision!.trim()}, not ${target.sha} (their first 7 characters are the same). ` +
          `A build tag never moves: release another commit, or delete that package version if it is not needed.`,
      }
    }
    const missing = missingFrom(build, target.platforms)
    if (missing.length > 0) {
      return {
        action: "refuse",
        reason:
          `${buildRef} already exists at ${build.digest} without ${missing.join(", ")} (it holds ${holds(build)}), and no version tag names it. ` +
          `A build tag never moves: publish with the platforms it holds, or delete that package version and publish again.`,
      }
    }
    return {
      action: "reuse",
      digest: build.digest,
      write: ["version"],
      reason: `${buildRef} already holds this commit's build ${build.digest} (a run that stopped before the version tag, or this commit released before under another version): ${target.versionTag} is written there, nothing is built; its ${VERSION_LABEL} label keeps the version it was built for`,
    }
  }
  return { action: "build" }
}

/**
 * What was pushed lacks a platform that was built: a single image for several platforms, or an
 * index without one of them (the engine published what it had: a base image with only one
 * platform gives one). Returns the problem in words, or undefined.
 */
export function missingPlatforms(
  pushed: Pick<Manifest, "digest" | "mediaType" | "json">,
  platforms: readonly string[],
): string | undefined {
  if (platforms.length < 2) return undefined
  if (!INDEX_MEDIA_TYPES.has(pushed.mediaType))
    return `pushed as ${pushed.digest}, which is a single image, not an index of ${platforms.join(", ")}`
  const listed = pushed.json.manifests ?? []
  const missing = platforms.filter(
    (platform) => !listed.some((m) => platformMatches(m.platform, parsePlatform(platform))),
  )
  if (missing.length === 0) return undefined
  return `pushed as ${pushed.digest}, an index without ${missing.join(", ")} (it has ${listedPlatforms(pushed.json).join(", ") || "no platform"})`
}

/**
 * What was pushed for one platform is not that platform (the base image had only another one, and
 * the build ran on it): the problem in words, or undefined. An index that holds the platform is
 * fine; so is an image whose config says the platform.
 */
export function singlePlatformProblem(
  digest: string,
  pushed: TagState | undefined,
  platform: string,
): string | undefined {
  if (!pushed) return `pushed as ${digest}, which the registry does not serve`
  if (missingFrom(pushed, [platform]).length === 0) return undefined
  return `pushed as ${digest}, ${pushed.platforms.length === 1 ? `a single ${formatPlatform(pushed.platforms[0]!)} image` : `an image of ${holds(pushed)}`}, not ${platform}`
}

/** What happens to a tag that must never move, given what it names now. */
export type ImmutableTagDecision =
  | { readonly action: "create" }
  | { readonly action: "unchanged" }
  | { readonly action: "refuse"; readonly existing: string }

/** A tag never moves: create it, accept it when it already names this digest, refuse otherwise. */
export function decideImmutableTag(existing: string | undefined, digest: string): ImmutableTagDecision {
  if (existing === undefined) return { action: "create" }
  if (existing === digest) return { action: "unchanged" }
  return { action: "refuse", existing }
}
