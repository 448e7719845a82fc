/**
 * Publish's side of the registry: what each tag of a release names (digest, platforms, the commit
 * it was built from), and writing a tag that never moves (created, or refused when it names
 * another image, then read back).
 */
import { RegistryClient } from "../oci/client.js"
import { INDEX_MEDIA_TYPES, type Manifest, RegistryError } from "../oci/manifest.js"
import { type Platform as ImagePlatform } from "../oci/platform.js"
import { decideImmutableTag, type RegistryState, REVISION_LABEL, type TagState } from "./decision.js"
import { type PublishPlan } from "./inputs.js"

/** A publish was refused before anything was built or pushed, or before a tag would have moved. */
export class PublishRefusedError extends RegistryError {
  override name = "PublishRefusedError"
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
