/**
 * The deploy preflight: before any kubectl or Helm container runs, the image to deploy is
 * resolved in the registry, so a typo, an unpublished version, a moved tag or an image the
 * cluster's nodes cannot run fails in seconds instead of sitting in ImagePullBackOff for the
 * whole Helm timeout. It talks to the registry through the shared registry client only.
 */
import { RegistryClient } from "../oci/client.js"
import { INDEX_MEDIA_TYPES, type RegistryCredentials, type RegistryEndpoint, RegistryError } from "../oci/manifest.js"
import { formatPlatform, listedPlatforms, type Platform, platformMatches } from "../oci/platform.js"
import { endpointOf } from "../oci/reference.js"

/** What the deploy needs to know about the image, checked. */
export interface ResolvedImage {
  /** `<registry>/<owner>/<image>`: what pods pull. */
  readonly repository: string
  readonly version: string
  /** The digest the version tag names: an index for a multi-platform image. */
  readonly digest: string
  /** The digest of the manifest the cluster's nodes will pull for the platform. */
  readonly platformDigest: string
  /** `<repository>:<version>@<digest>`: what the design calls the IMAGE_URI. */
  readonly uri: string
}

/** The image to check: the address pods pull, where the module reaches its registry, which tag, which platform. */
export interface PreflightTarget {
  /** `<registry>/<owner>/<image>`: what pods pull, and what every message names. */
  readonly address: string
  /** How the module's own process reaches the registry (in a rehearsal: the registry service). */
  readonly endpoint: RegistryEndpoint
  /** The repository path inside the registry, `<owner>/<image>`. */
  readonly path: string
  readonly version: string
  readonly platform: Platform
}

/**
 * The target of an image address `<host>/<owner>/<image>` (as helmDeploy's --image takes it); the
 * scheme, when given, overrides the localhost rule; `endpoint`, when given, is where the module
 * reaches the registry instead (a registry service).
 */
export function imageTarget(
  address: string,
  version: string,
  platform: Platform,
  reach: { readonly scheme?: "http" | "https"; readonly endpoint?: RegistryEndpoint } = {},
): PreflightTarget {
  const slash = address.indexOf("/")
  const host = address.slice(0, slash)
  return {
    address,
    endpoint: reach.endpoint ?? (reach.scheme ? { scheme: reach.scheme, host } : endpointOf(host)),
    path: address.slice(slash + 1),
    version,
    platform,
  }
}

/** `version=`, `digest=` and `image_uri=` lines, as a workflow step appends them to $GITHUB_OUTPUT. */
export function githubOutputLines(image: ResolvedImage): string {
  return [`version=${image.version}`, `digest=${image.digest}`, `image_uri=${image.uri}`].join("\n")
}

/** The preflight found the image not fit to deploy; nothing was deployed. */
export class PreflightError extends Error {
  override name = "PreflightError"
}

/**
 * Resolves `<image>:<version>` and checks it: the tag exists, names `digest` when one is given,
 * and has a manifest for the platform that the registry really serves (for an index, the child
 * itself, not only its entry). Throws a `PreflightError` a person can act on, naming the image by
 * the address pods pull.
 */
export async function preflightImage(
  target: PreflightTarget,
  digest: string | undefined,
  credentials?: RegistryCredentials,
): Promise<ResolvedImage> {
  const client = new RegistryClient(target.endpoint, credentials, { timeoutMs: 20_000 })
  const repository = target.address
  const image = `${repository}:${target.version}`
  const platform = formatPlatform(target.platform)
  try {
    // One GET of the tag: its bytes give the digest (verified) and the platforms.
    const manifest = await client.manifest(target.path, target.version).catch((error: unknown) => {
      if (error instanceof RegistryError && error.status === 404) return undefined
      throw error
    })
    if (!manifest) {
      throw new PreflightError(
        `image ${image} does not exist: the registry has no tag ${target.version} in ${repository}. Publish it first, or check --version and --image.`,
      )
    }
    if (digest && manifest.digest !== digest) {
      throw new PreflightError(
        `image ${image} is ${manifest.digest} in the registry, not ${digest} as --digest says: the tag names another image than the one that was published.`,
      )
    }
    let platformDigest = manifest.digest
    if (INDEX_MEDIA_TYPES.has(manifest.mediaType)) {
      const child = (manifest.json.manifests ?? []).find((m) => platformMatches(m.platform, target.platform))
      if (!child) {
        throw new PreflightError(
          `image ${image} (${manifest.digest}) has no ${platform} manifest; it lists ${listedPlatforms(manifest.json).join(", ") || "no platform"}. The cluster's nodes could not run it.`,
        )
      }
      if (!(await client.resolve(target.path, child.digest))) {
        throw new PreflightError(
          `image ${image} (${manifest.digest}) lists ${platform} as ${child.digest}, but the registry does not have that manifest (deleted by a cleanup?): pulls would fail.`,
        )
      }
      platformDigest = child.digest
    } else {
      const config = (manifest.json as { config?: { digest?: string } }).config?.digest
      const parsed = config
        ? (JSON.parse(new TextDecoder().decode(await client.blob(target.path, config))) as {
            os?: string
            architecture?: string
            variant?: string
          })
        : undefined
      if (!platformMatches(parsed, target.platform)) {
        const have = parsed ? formatPlatform(parsed) : "an unknown platform"
        throw new PreflightError(
          `image ${image} (${manifest.digest}) is a single ${have} image, not ${platform}: the cluster's nodes could not run it.`,
        )
      }
    }
    return {
      repository,
      version: target.version,
      digest: manifest.digest,
      platformDigest,
      uri: `${image}@${manifest.digest}`,
    }
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error
    if (error.status === 401 || error.status === 403) {
      throw new PreflightError(
        credentials
          ? `the registry refused the reader credentials (user ${JSON.stringify(credentials.username)}) for ${repository}: check that the token is valid, has read:packages, and that this user may read the package.\n  ${error.message}`
          : `the registry wants credentials to read ${repository} (a private package?): pass --reader-username and --reader-token.\n  ${error.message}`,
      )
    }
    const { scheme, host } = target.endpoint
    const pulledFrom = target.address.slice(0, target.address.indexOf("/"))
    const where = host === pulledFrom ? `${scheme}://${host}` : `reached at ${scheme}://${host}`
    throw new PreflightError(`could not check ${image} in the registry (${where}): ${error.message}.`)
  }
}
