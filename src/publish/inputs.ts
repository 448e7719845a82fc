/**
 * Publish's inputs: every argument checked, before anything is built or sent, into the typed
 * plan of a publish (the version, the build tag, the image address, the platforms, the build
 * arguments and the labels every image carries).
 */
import { check } from "../common/errors.js"
import { looksSecret } from "../common/redact.js"
import { checkLength, checkNoUserInfo, CONTROL, LIMITS, parseUsername } from "../common/names.js"
import { type BuildTag, parseReleaseRef, parseSha, type ReleaseVersion } from "../common/version.js"
import { parsePlatforms } from "../oci/platform.js"
import { type ImageRepository, imageRepository } from "../oci/reference.js"
import { REVISION_LABEL, VERSION_LABEL } from "./decision.js"

/** What `publish` will do, decided from its arguments alone. */
export interface PublishPlan {
  readonly version: ReleaseVersion
  readonly buildTag: BuildTag
  /** The commit SHA as given, lower-case (also the revision label). */
  readonly sha: string
  readonly repository: ImageRepository
  readonly username: string
  readonly dockerfile: string
  readonly platforms: string[]
  readonly buildArgs: { name: string; value: string }[]
  /** OCI labels every platform image carries. */
  readonly labels: Record<string, string>
}

export interface PublishArgs {
  ref: string
  sha: string
  owner: string
  username: string
  image: string
  registry: string
  dockerfile: string
  platforms: string[]
  buildArgs: string[]
  sourceUrl?: string
}

/** Checks every publish argument and returns the plan; throws before any side effect. */
export function planPublish(args: PublishArgs): PublishPlan {
  const version = parseReleaseRef(args.ref)
  const buildTag = parseSha(args.sha)
  const sha = args.sha.toLowerCase()
  const repository = imageRepository(args.registry, args.owner, args.image)
  const labels: Record<string, string> = {
    [VERSION_LABEL]: version.tag,
    [REVISION_LABEL]: sha,
  }
  if (args.sourceUrl) {
    checkLength(args.sourceUrl, LIMITS.url, "sourceUrl", "a URL")
    // It becomes a label of a public image: it can never carry a credential.
    checkNoUserInfo(args.sourceUrl, "sourceUrl")
    check(
      /^https:\/\/[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:\/[^\s"?#]*)?$/.test(args.sourceUrl) && !looksSecret(args.sourceUrl),
      "sourceUrl",
      args.sourceUrl,
      "is not a repository URL: expected https://<host>/<path>, without user info, query or fragment (e.g. https://github.com/meetinity/api-gateway); it becomes a label of the public image",
    )
    labels["org.opencontainers.image.source"] = args.sourceUrl
  }
  return {
    version,
    buildTag,
    sha,
    repository,
    username: parseUsername(args.username),
    dockerfile: parseDockerfile(args.dockerfile),
    platforms: parsePlatforms(args.platforms),
    buildArgs: parseBuildArgs(args.buildArgs),
    labels,
  }
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
    check(!entry.includes("\u0000"), argument, entry, "has a NUL character, which no environment string can hold")
    // A build argument is written into the image's history, which everyone who pulls it can read.
    check(
      !looksSecret(match![2]!),
      argument,
      entry,
      `holds what looks like a credential: build arguments are recorded in the image's history for anyone who pulls it; a secret must not be a build argument`,
    )
    return { name: match![1]!, value: match![2]! }
  })
}

/** A Dockerfile path inside the source directory. */
export function parseDockerfile(value: string, argument = "dockerfile"): string {
  checkLength(value, LIMITS.dockerfile, argument, "a Dockerfile path")
  check(
    !CONTROL.test(value),
    argument,
    value,
    "has a control character (a NUL, a newline, a bidirectional override): expected a plain path relative to the source directory (e.g. Dockerfile)",
  )
  check(
    value.trim() !== "" && !value.startsWith("/") && !value.split("/").includes(".."),
    argument,
    value,
    "is not a Dockerfile path: expected a path relative to the source directory, without .. (e.g. Dockerfile, services/api/Dockerfile)",
  )
  return value
}
