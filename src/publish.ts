/**
 * Publishing: the typed plan of a publish (every argument checked before anything is built),
 * the registry read that `decidePublish` (publish-decision.ts) turns into reuse, build or refuse,
 * and the adapter that carries the decision out: the Dagger build of each platform, the push of
 * the build tag, and the version tag written by copying manifest bytes. No tag ever moves.
 */
import { dag, type Container, type Directory, type Platform, type Secret } from "@dagger.io/dagger"

import { check } from "./errors.js"
import {
  checkLength,
  imageRepository,
  LIMITS,
  parseBuildArgs,
  parseDockerfile,
  parsePlatforms,
  parseReleaseRef,
  parseSha,
  parseUsername,
  type BuildTag,
  type ImageRepository,
  type ReleaseVersion,
} from "./naming.js"
import { DIRECT, type ServiceNetwork } from "./network.js"
import {
  decideImmutableTag,
  decidePublish,
  missingPlatforms,
  REVISION_LABEL,
  VERSION_LABEL,
  type PublishDecision,
  type PublishTarget,
  type RegistryState,
  type ReleaseTag,
  type TagState,
} from "./publish-decision.js"
import type { Platform as ImagePlatform } from "./preflight.js"
import { INDEX_MEDIA_TYPES, RegistryClient, RegistryError, type Manifest } from "./registry.js"

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
    check(
      /^https:\/\/[^\s"]+$/.test(args.sourceUrl),
      "sourceUrl",
      args.sourceUrl,
      "is not a URL: expected https://... (e.g. https://github.com/meetinity/api-gateway)",
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

/** `docker build` of one platform through Dagger. */
export function buildPlatform(
  source: Directory,
  dockerfile: string,
  platform: string,
  buildArgs: { name: string; value: string }[],
): Container {
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
export async function pushImages(
  images: Container[],
  repository: ImageRepository,
  tag: string,
  username: string,
  password: Secret,
  network: ServiceNetwork = DIRECT,
): Promise<string> {
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
  if (!match)
    throw new RegistryError(
      `the engine reported ${JSON.stringify(reference)} for a push: expected a reference ending in @sha256:<64 hex>`,
    )
  return match[1]!
}

/** A publish was refused before anything was built or pushed, or before a tag would have moved. */
export class PublishRefusedError extends RegistryError {
  override name = "PublishRefusedError"
}

/** The release as `decidePublish` sees it. */
export function publishTarget(plan: PublishPlan): PublishTarget {
  return {
    address: plan.repository.address,
    versionTag: plan.version.tag,
    buildTag: plan.buildTag,
    sha: plan.sha,
    platforms: plan.platforms,
  }
}

/** What a tag names: its digest, platforms (an index's children checked), and the revision label. Undefined when the tag does not exist. */
export async function readTag(client: RegistryClient, repository: string, tag: string): Promise<TagState | undefined> {
  const manifest = await client.manifest(repository, tag).catch((error: unknown) => {
    if (error instanceof RegistryError && error.status === 404) return undefined
    throw error
  })
  if (!manifest) return undefined
  if (!INDEX_MEDIA_TYPES.has(manifest.mediaType)) {
    const config = await readConfig(client, repository, manifest)
    return { digest: manifest.digest, revision: config?.revision, platforms: config?.platform ? [config.platform] : [] }
  }
  const children = (manifest.json.manifests ?? []).filter((m) => m.platform && m.platform.os !== "unknown")
  const present = []
  for (const child of children) if (await client.resolve(repository, child.digest)) present.push(child)
  const first = present[0]
    ? await readConfig(client, repository, await client.manifest(repository, present[0].digest))
    : undefined
  return {
    digest: manifest.digest,
    revision: first?.revision,
    platforms: present.map((child) => ({
      os: child.platform!.os ?? "",
      architecture: child.platform!.architecture ?? "",
      ...(child.platform!.variant ? { variant: child.platform!.variant } : {}),
    })),
  }
}

/** The platform and revision label of a single image's config; undefined when it has no readable config. */
async function readConfig(
  client: RegistryClient,
  repository: string,
  manifest: Manifest,
): Promise<{ platform?: ImagePlatform; revision?: string } | undefined> {
  const digest = (manifest.json as { config?: { digest?: string } }).config?.digest
  if (!digest) return undefined
  let config: {
    os?: string
    architecture?: string
    variant?: string
    config?: { Labels?: Record<string, string> | null }
  }
  try {
    config = JSON.parse(new TextDecoder().decode(await client.blob(repository, digest))) as typeof config
  } catch (error) {
    if (error instanceof RegistryError) throw error
    return undefined // not JSON: an artifact, not an image
  }
  const platform =
    config.os && config.architecture
      ? { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }
      : undefined
  return { platform, revision: config.config?.Labels?.[REVISION_LABEL] }
}

/** Both tags of the release, read. */
export async function readRegistryState(client: RegistryClient, plan: PublishPlan): Promise<RegistryState> {
  const [version, build] = await Promise.all([
    readTag(client, plan.repository.path, plan.version.tag),
    readTag(client, plan.repository.path, plan.buildTag),
  ])
  return { ...(version ? { version } : {}), ...(build ? { build } : {}) }
}

/**
 * Writes `tag` at `digest` by copying the manifest bytes (so both tags share one digest), unless
 * it already names that digest; then reads it back. Throws `PublishRefusedError` when the tag
 * names another image, before or (a run that wrote it in between) after the write.
 */
export async function writeImmutableTag(
  client: RegistryClient,
  repository: string,
  tag: string,
  digest: string,
  refusal: (existing: string) => string,
): Promise<"created" | "unchanged"> {
  const before = await client.resolve(repository, tag)
  const decision = decideImmutableTag(before?.digest, digest)
  if (decision.action === "refuse") throw new PublishRefusedError(refusal(decision.existing))
  if (decision.action === "unchanged") return "unchanged"
  const manifest = await client.manifest(repository, digest)
  const stored = await client.putManifest(repository, tag, manifest)
  if (stored !== digest) {
    throw new RegistryError(`${client.endpoint.host}/${repository}:${tag} was stored as ${stored}, not ${digest}`)
  }
  // A registry has no compare-and-swap: another run may have written the tag between the read
  // above and this write. Read it back; whoever finds another digest there has lost and says so.
  const after = await client.resolve(repository, tag)
  if (after?.digest !== digest) {
    throw new PublishRefusedError(
      `${client.endpoint.host}/${repository}:${tag} was written at ${digest}, but another run wrote it at ${after?.digest ?? "nothing"} at the same time: that run's image is the one published under ${tag}; this run stops.`,
    )
  }
  return "created"
}

/**
 * Points `versionTag` at `digest` unless the tag already exists. Throws, naming both digests,
 * when it names another image (it is left where it is).
 */
export async function promoteVersionTag(
  client: RegistryClient,
  repository: string,
  digest: string,
  versionTag: string,
): Promise<"created" | "unchanged"> {
  return writeImmutableTag(
    client,
    repository,
    versionTag,
    digest,
    (existing) =>
      `${client.endpoint.host}/${repository}:${versionTag} already exists at ${existing}; this build is ${digest}. ` +
      `Version tags are immutable: the version tag was left where it is (another run published this version first). Release a new version instead.`,
  )
}

/** Both references of a release at one digest, version first. */
const references = (plan: PublishPlan, digest: string): [string, string] => [
  `${plan.repository.address}:${plan.version.tag}@${digest}`,
  `${plan.repository.address}:${plan.buildTag}@${digest}`,
]

/** Carries out a `reuse`: writes the missing tags at the digest; builds and pushes no image. */
async function reuse(
  client: RegistryClient,
  plan: PublishPlan,
  decision: Extract<PublishDecision, { action: "reuse" }>,
): Promise<[string, string]> {
  const tags: Record<ReleaseTag, string> = { version: plan.version.tag, build: plan.buildTag }
  for (const which of decision.write) {
    await writeImmutableTag(
      client,
      plan.repository.path,
      tags[which],
      decision.digest,
      (existing) =>
        `${plan.repository.address}:${tags[which]} was written by another run at ${existing} since publish read the registry; it is left there, and this run stops.`,
    )
  }
  return references(plan, decision.digest)
}

/**
 * Publishes a planned release without ever moving a tag. Reads both tags and decides
 * (`decidePublish`): reuse what is there, refuse, or build. A build runs first, then the
 * registry is read and decided again (another run may have published meanwhile), and only then
 * is the build tag pushed; the pushed image must hold every platform built; the version tag is
 * written last, after one more read, and read back. Returns both references, version first.
 */
export async function publishPlanned(
  source: Directory,
  plan: PublishPlan,
  password: Secret,
  network: ServiceNetwork = DIRECT,
  log: (line: string) => void = (line) => console.error(line),
): Promise<[string, string]> {
  // With a registry service (a rehearsal), the module's own process reaches it at its endpoint.
  const client = new RegistryClient(network.registry?.endpoint ?? plan.repository, {
    username: plan.username,
    password: await password.plaintext(),
  })
  const target = publishTarget(plan)
  let decision = decidePublish(target, await readRegistryState(client, plan))
  let done = "Nothing was built or pushed."
  if (decision.action === "build") {
    const images = platformImages(source, plan)
    await Promise.all(images.map((image) => image.sync()))
    decision = decidePublish(target, await readRegistryState(client, plan))
    if (decision.action === "build") return buildTagThenVersionTag(client, plan, images, password, network)
    done = "Another run published while this one built: this run's build was not pushed."
    log(`publish: ${done}`)
  }
  if (decision.action === "refuse") throw new PublishRefusedError(`${decision.reason} ${done}`)
  log(`publish: ${decision.reason}`)
  return reuse(client, plan, decision)
}

/** Pushes the build tag, checks it holds every platform built, then writes the version tag. */
async function buildTagThenVersionTag(
  client: RegistryClient,
  plan: PublishPlan,
  images: Container[],
  password: Secret,
  network: ServiceNetwork,
): Promise<[string, string]> {
  const digest = await pushImages(images, plan.repository, plan.buildTag, plan.username, password, network)
  const problem =
    plan.platforms.length > 1
      ? missingPlatforms(await client.manifest(plan.repository.path, digest), plan.platforms)
      : undefined
  if (problem) {
    throw new RegistryError(
      `${plan.repository.address}:${plan.buildTag} was ${problem}: does every base image of the Dockerfile exist for each platform? ` +
        `The version tag ${plan.version.tag} was not written.`,
    )
  }
  await promoteVersionTag(client, plan.repository.path, digest, plan.version.tag)
  return references(plan, digest)
}
