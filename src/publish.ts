/**
 * Publishing: the typed plan of a publish (every argument checked before anything is built),
 * the Dagger build of each platform, and the rule that a version tag never moves.
 */
import { dag, type Container, type Directory, type Platform, type Secret } from "@dagger.io/dagger"

import { check } from "./errors.js"
import {
  imageRepository, parseBuildArgs, parseDockerfile, parsePlatforms, parseReleaseRef, parseSha,
  parseUsername, type BuildTag, type ImageRepository, type ReleaseVersion,
} from "./naming.js"
import { listedPlatforms, parsePlatform, platformMatches } from "./preflight.js"
import { DIRECT, type ServiceNetwork } from "./network.js"
import { INDEX_MEDIA_TYPES, RegistryClient, RegistryError, type Manifest } from "./registry.js"

/** What `publish` will do, decided from its arguments alone. */
export interface PublishPlan {
  readonly version: ReleaseVersion
  readonly buildTag: BuildTag
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
  const repository = imageRepository(args.registry, args.owner, args.image)
  const labels: Record<string, string> = {
    "org.opencontainers.image.version": version.tag,
    "org.opencontainers.image.revision": args.sha.toLowerCase(),
  }
  if (args.sourceUrl) {
    check(/^https:\/\/[^\s"]+$/.test(args.sourceUrl), "sourceUrl", args.sourceUrl, "is not a URL: expected https://... (e.g. https://github.com/meetinity/api-gateway)")
    labels["org.opencontainers.image.source"] = args.sourceUrl
  }
  return {
    version,
    buildTag,
    repository,
    username: parseUsername(args.username),
    dockerfile: parseDockerfile(args.dockerfile),
    platforms: parsePlatforms(args.platforms),
    buildArgs: parseBuildArgs(args.buildArgs),
    labels,
  }
}

/** `docker build` of one platform through Dagger. */
export function buildPlatform(source: Directory, dockerfile: string, platform: string, buildArgs: { name: string; value: string }[]): Container {
  return source.dockerBuild({ dockerfile, platform: platform as Platform, buildArgs })
}

/** The platform images of a plan, labelled. Nothing is sent to the engine yet. */
export function platformImages(source: Directory, plan: PublishPlan): Container[] {
  return plan.platforms.map((platform) =>
    Object.entries(plan.labels).reduce(
      (image, [name, value]) => image.withLabel(name, value),
      buildPlatform(source, plan.dockerfile, platform, plan.buildArgs),
    ),
  )
}

/**
 * Pushes the images under `tag` with registry auth from the Secret: one manifest for one
 * platform, an image index for several. Returns the digest the engine reports. With a registry
 * service, the engine's push goes to that service (the reference keeps its address).
 */
export async function pushImages(images: Container[], repository: ImageRepository, tag: string, username: string, password: Secret, network: ServiceNetwork = DIRECT): Promise<string> {
  const [first, ...rest] = images
  const publisher = rest.length === 0 ? first! : dag.container()
  const route = network.registry ? { registryService: network.registry.service } : {}
  const reference = await publisher
    .withRegistryAuth(repository.host, username, password)
    .publish(`${repository.address}:${tag}`, rest.length === 0 ? route : { platformVariants: images, ...route })
  return digestOf(reference)
}

/** The digest part of `host/repo:tag@sha256:...`. */
export function digestOf(reference: string): string {
  const match = /@(sha256:[0-9a-f]{64})$/.exec(reference)
  if (!match) throw new RegistryError(`the engine reported ${JSON.stringify(reference)} for a push: expected a reference ending in @sha256:<64 hex>`)
  return match[1]!
}

/** What happens to a version tag, given what the registry holds now. */
export type VersionTagDecision =
  | { readonly action: "create" }
  | { readonly action: "unchanged" }
  | { readonly action: "refuse"; readonly existing: string }

/** A version tag is immutable: create it, accept it when it already names this digest, refuse otherwise. */
export function decideVersionTag(existing: string | undefined, built: string): VersionTagDecision {
  if (existing === undefined) return { action: "create" }
  if (existing === built) return { action: "unchanged" }
  return { action: "refuse", existing }
}

/**
 * Points `versionTag` at `digest` by copying the manifest bytes (so both tags share one digest),
 * unless the tag already exists. Throws, naming both digests, when it names another image.
 */
export async function promoteVersionTag(client: RegistryClient, repository: string, digest: string, versionTag: string): Promise<"created" | "unchanged"> {
  const head = await client.resolve(repository, versionTag)
  const decision = decideVersionTag(head?.digest, digest)
  if (decision.action === "refuse") {
    throw new RegistryError(
      `${client.endpoint.host}/${repository}:${versionTag} already exists at ${decision.existing}; this build is ${digest}. ` +
        `Version tags are immutable: the build tag was pushed, the version tag was left where it is. Release a new version instead.`,
    )
  }
  if (decision.action === "unchanged") return "unchanged"
  const manifest = await client.manifest(repository, digest)
  const stored = await client.putManifest(repository, versionTag, manifest)
  if (stored !== digest) {
    throw new RegistryError(`${client.endpoint.host}/${repository}:${versionTag} was stored as ${stored}, not ${digest}`)
  }
  return "created"
}

/**
 * What was pushed lacks a platform that was built: a single image for several platforms, or an
 * index without one of them (the engine published what it had: a base image with only one
 * platform gives one). Returns the problem in words, or undefined.
 */
export function missingPlatforms(pushed: Pick<Manifest, "digest" | "mediaType" | "json">, platforms: readonly string[]): string | undefined {
  if (platforms.length < 2) return undefined
  if (!INDEX_MEDIA_TYPES.has(pushed.mediaType)) return `pushed as ${pushed.digest}, which is a single image, not an index of ${platforms.join(", ")}`
  const listed = pushed.json.manifests ?? []
  const missing = platforms.filter((platform) => !listed.some((m) => platformMatches(m.platform, parsePlatform(platform))))
  if (missing.length === 0) return undefined
  return `pushed as ${pushed.digest}, an index without ${missing.join(", ")} (it has ${listedPlatforms(pushed.json).join(", ") || "no platform"})`
}

/**
 * Builds, pushes the build tag, checks that what was pushed has every platform built, then
 * writes the version tag; returns both references, version first.
 */
export async function publishPlanned(source: Directory, plan: PublishPlan, password: Secret, network: ServiceNetwork = DIRECT): Promise<[string, string]> {
  const digest = await pushImages(platformImages(source, plan), plan.repository, plan.buildTag, plan.username, password, network)
  const client = new RegistryClient(network.registry?.endpoint ?? plan.repository, { username: plan.username, password: await password.plaintext() })
  const problem = plan.platforms.length > 1 ? missingPlatforms(await client.manifest(plan.repository.path, digest), plan.platforms) : undefined
  if (problem) {
    throw new RegistryError(`${plan.repository.address}:${plan.buildTag} was ${problem}: does every base image of the Dockerfile exist for each platform? ` +
      `The version tag ${plan.version.tag} was not written.`)
  }
  await promoteVersionTag(client, plan.repository.path, digest, plan.version.tag)
  return [`${plan.repository.address}:${plan.version.tag}@${digest}`, `${plan.repository.address}:${plan.buildTag}@${digest}`]
}
