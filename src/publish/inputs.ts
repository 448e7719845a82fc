/**
 * Publish's inputs: every argument checked, before anything is built or sent, into the typed
 * plan of a publish (the version, the build tag, the image address, the platforms, the build
 * arguments and the labels every image carries).
 */
import { type Secret } from "@dagger.io/dagger"

import { check } from "../common/errors.js"
import { looksSecret } from "../common/redact.js"
import { checkLength, checkNoUserInfo, CONTROL, LIMITS, parseUsername } from "../common/names.js"
import { type BuildTag, parseReleaseRef, parseSha, type ReleaseVersion } from "../common/version.js"
import { parsePlatforms } from "../oci/platform.js"
import { type ImageRepository, imageRepository } from "../oci/reference.js"
import { parseTrustedRoot } from "../signing/trust.js"
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

/** syft 1.54.1 (anchore/syft on Docker Hub), pinned by digest: it makes the SBOM from the built image. */
export const SYFT_IMAGE =
  "docker.io/anchore/syft:v1.54.1@sha256:3eb5379ba7b409c3f4069b686110527af0c47df993fa5c10d13e7cf34f49b1aa"

/** How publish signs: not at all, with a key, or keyless. */
export type SigningPlan =
  | { readonly mode: "none" }
  | { readonly mode: "key"; readonly key: Secret; readonly syftImage?: string }
  | {
      readonly mode: "keyless"
      /** The syft image the SBOM is made with (default SYFT_IMAGE): a mirror of it, pinned by digest. */
      readonly syftImage?: string
      /** The OIDC token, or where to request it when signing (GitHub Actions' token endpoint and its request token). */
      readonly token: Secret | { readonly requestUrl: string; readonly requestToken: Secret }
      readonly fulcioUrl: string
      readonly rekorUrl?: string
      readonly timestampUrl?: string
      /** The trusted root JSON the bundles verify against; absent: Sigstore's public-good instance (read with TUF). */
      readonly trustedRoot?: string
    }

export interface SigningArgs {
  readonly signingKey?: Secret
  readonly oidcToken?: Secret
  /** GitHub Actions: $ACTIONS_ID_TOKEN_REQUEST_URL, to request the token when signing (it lives minutes; a build may take longer). */
  readonly oidcRequestUrl?: string
  readonly oidcRequestToken?: Secret
  readonly fulcioUrl: string
  readonly rekorUrl: string
  readonly timestampUrl: string
  readonly trustedRoot?: string
  /** The syft image, pinned by digest (a mirror of SYFT_IMAGE in an air-gapped registry). */
  readonly syftImage?: string
}

/** https, or plain http on this machine (a local Fulcio or Rekor). */
const URL_SHAPE = /^(?:https:\/\/[^\s/@]+|http:\/\/(?:localhost|127\.0\.0\.1)(?::[0-9]{1,5})?)(\/\S*)?$/

/** Checks how publish signs, before anything runs: a key or a token, not both; the keyless services' URLs. */
export function parseSigning(args: SigningArgs): SigningPlan {
  check(
    !(args.signingKey && args.oidcToken),
    "oidcToken",
    "<a token>",
    "was given with --signing-key: expected one way to sign (a key, or keyless with an OIDC token)",
  )
  const requested = (args.oidcRequestUrl ?? "") !== "" || args.oidcRequestToken !== undefined
  check(
    !(requested && (args.signingKey || args.oidcToken)),
    "oidcRequestToken",
    "<a token>",
    "was given with --signing-key or --oidc-token: expected one way to sign",
  )
  if (requested) {
    check(
      args.oidcRequestToken !== undefined,
      "oidcRequestToken",
      null,
      "is missing: --oidc-request-url needs it (env://ACTIONS_ID_TOKEN_REQUEST_TOKEN, with id-token: write)",
    )
    check(
      /^https:\/\/\S+$|^http:\/\/(?:localhost|127\.0\.0\.1)(?::[0-9]{1,5})?\/\S*$/.test(args.oidcRequestUrl ?? ""),
      "oidcRequestUrl",
      args.oidcRequestUrl ?? "",
      "is not a URL: expected $ACTIONS_ID_TOKEN_REQUEST_URL (set in a job with permissions id-token: write)",
    )
  }
  const syftImage = args.syftImage ?? SYFT_IMAGE
  check(
    /^[a-z0-9.-]+(?::[0-9]+)?(?:\/[a-z0-9._-]+)+(?::[A-Za-z0-9_.-]+)?@sha256:[0-9a-f]{64}$/.test(syftImage),
    "syftImage",
    syftImage,
    `is not an image pinned by digest: expected <registry>/<path>[:tag]@sha256:<64 hex> (e.g. ${SYFT_IMAGE})`,
  )
  if (args.signingKey) return { mode: "key", key: args.signingKey, syftImage }
  if (!args.oidcToken && !requested) return { mode: "none" }
  for (const [name, value] of [
    ["fulcioUrl", args.fulcioUrl],
    ["rekorUrl", args.rekorUrl],
    ["timestampUrl", args.timestampUrl],
  ] as const)
    check(
      value === "" || URL_SHAPE.test(value),
      name,
      value,
      "is not a URL: expected https://<host>[/path] (plain http only for localhost or 127.0.0.1)",
    )
  check(args.fulcioUrl !== "", "fulcioUrl", args.fulcioUrl, "is empty: keyless signing needs a Fulcio")
  check(
    args.rekorUrl !== "" || args.timestampUrl !== "",
    "rekorUrl",
    args.rekorUrl,
    "is empty and so is --timestamp-url: keyless signing needs a transparency log or a timestamp authority to witness the time of signing",
  )
  if (args.trustedRoot !== undefined) parseTrustedRoot(args.trustedRoot)
  return {
    mode: "keyless",
    syftImage,
    token: args.oidcToken ?? { requestUrl: args.oidcRequestUrl!, requestToken: args.oidcRequestToken! },
    fulcioUrl: args.fulcioUrl,
    ...(args.rekorUrl ? { rekorUrl: args.rekorUrl } : {}),
    ...(args.timestampUrl ? { timestampUrl: args.timestampUrl } : {}),
    ...(args.trustedRoot !== undefined ? { trustedRoot: args.trustedRoot } : {}),
  }
}
