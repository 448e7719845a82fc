/**
 * Reading what is attached to a digest: its referrers, from the registry's referrers API when it
 * has one (zot), else from the `sha256-<hex>` fallback index (distribution 2.8, GHCR today), then
 * each Sigstore bundle referrer's manifest and its one layer, each read once. Through the shared
 * registry client only.
 */
import { mapLimit } from "../common/concurrency.js"
import { type Descriptor, type RegistryClient } from "../oci/client.js"
import { type Manifest, RegistryError } from "../oci/manifest.js"
import { ANNOTATION, BUNDLE_MEDIA_TYPE, EMPTY_CONFIG, fallbackTag, OCI_INDEX, OCI_MANIFEST } from "./constants.js"

/** A bundle is at most this big (an SBOM of a large image is a few MB). */
export const BUNDLE_LIMIT = 64 * 1024 * 1024

/** One Sigstore bundle referrer, read. */
export interface StoredBundle {
  /** Its descriptor, with the artifact type and annotations of its manifest (what an index entry should carry). */
  readonly descriptor: Descriptor
  /** The `dev.sigstore.bundle.predicateType` annotation, when it has one (a claim: the statement is what counts). */
  readonly annotatedType?: string
  /** The manifest's `subject` digest. */
  readonly subject?: string
  /** The bundle's JSON bytes (digest-verified). */
  readonly bytes: Uint8Array
}

/** What is attached to a digest, and where it was listed. */
export interface AttachedState {
  /** True when the registry answers the referrers API; false: the fallback tag lists referrers. */
  readonly api: boolean
  /** `the referrers API` or `the fallback tag sha256-<hex>`, for messages. */
  readonly source: string
  /** Every referrer as listed. */
  readonly listed: readonly Descriptor[]
  readonly bundles: readonly StoredBundle[]
  /** The fallback index as stored (to extend it), when the registry has no referrers API and the tag exists. */
  readonly fallbackIndex?: Manifest
  /** Requests made: for the budget reports. */
  readonly requests: number
}

/** Whether an index entry may be a Sigstore bundle (zot v1.4.3 lists the config media type as artifactType). */
function mayBeBundle(entry: Descriptor): boolean {
  if (entry.mediaType !== OCI_MANIFEST) return false
  if (entry.annotations?.[ANNOTATION.predicateType]) return true
  const type = entry.artifactType
  return type === undefined || type === BUNDLE_MEDIA_TYPE || type === EMPTY_CONFIG.mediaType
}

/** A Sigstore bundle layer media type: v0.3 (`…bundle.v0.3+json`) or the older `…bundle+json;version=0.x`. */
export function isBundleMediaType(mediaType: string | undefined): boolean {
  return (
    mediaType !== undefined &&
    /^application\/vnd\.dev\.sigstore\.bundle(\.v0\.\d+)?\+json(;version=0\.\d+)?$/.test(mediaType)
  )
}

interface ArtifactManifest {
  artifactType?: string
  config?: { mediaType?: string }
  layers?: { mediaType?: string; digest?: string; size?: number }[]
  subject?: { digest?: string }
  annotations?: Record<string, string>
}

/** Lists the referrers of `digest`: through the API, else through the fallback tag (absent: none). */
export async function listReferrers(
  client: RegistryClient,
  repository: string,
  digest: string,
): Promise<{ api: boolean; listed: Descriptor[]; fallbackIndex?: Manifest; requests: number }> {
  const listed = await client.referrers(repository, digest)
  if (listed) return { api: true, listed, requests: 1 }
  const index = await client.manifest(repository, fallbackTag(digest)).catch((error: unknown) => {
    if (error instanceof RegistryError && error.status === 404) return undefined
    throw error
  })
  if (!index) return { api: false, listed: [], requests: 2 }
  if (index.mediaType !== OCI_INDEX)
    throw new RegistryError(
      `${repository}:${fallbackTag(digest)} holds a ${index.mediaType || "manifest of no media type"}, not the OCI image index that lists the referrers of ${digest}; it is left as it is`,
    )
  const entries = (index.json.manifests ?? []) as unknown[]
  const descriptors = entries.filter(
    (entry): entry is Descriptor =>
      typeof (entry as Descriptor).digest === "string" && typeof (entry as Descriptor).mediaType === "string",
  )
  return { api: false, listed: descriptors, fallbackIndex: index, requests: 2 }
}

/**
 * Reads what is attached to `digest`: the referrers, then every one that may be a Sigstore bundle
 * (its manifest, then its one layer), at most `concurrency` at a time. A referrer whose manifest
 * the registry no longer has is skipped; any other registry failure throws.
 */
export async function readAttached(
  client: RegistryClient,
  repository: string,
  digest: string,
  concurrency = 4,
): Promise<AttachedState> {
  const { api, listed, fallbackIndex, requests } = await listReferrers(client, repository, digest)
  let reads = requests
  const candidates = listed.filter(mayBeBundle)
  const read = await mapLimit(candidates, concurrency, async (entry): Promise<StoredBundle | undefined> => {
    reads++
    const manifest = await client.manifest(repository, entry.digest).catch((error: unknown) => {
      if (error instanceof RegistryError && error.status === 404) return undefined
      throw error
    })
    if (!manifest) return undefined
    const json = manifest.json as ArtifactManifest
    const layer = json.layers?.length === 1 ? json.layers[0] : undefined
    if (!layer || !isBundleMediaType(layer.mediaType) || typeof layer.digest !== "string") return undefined
    if (typeof layer.size === "number" && layer.size > BUNDLE_LIMIT)
      throw new RegistryError(
        `${repository}@${entry.digest}: its bundle layer is ${layer.size} bytes, more than the ${BUNDLE_LIMIT} a bundle may have`,
      )
    reads++
    const bytes = await client.blob(repository, layer.digest)
    const annotations = json.annotations ?? entry.annotations
    const descriptor: Descriptor = {
      mediaType: manifest.mediaType || OCI_MANIFEST,
      digest: manifest.digest,
      size: manifest.body.length,
      artifactType: json.artifactType ?? json.config?.mediaType ?? BUNDLE_MEDIA_TYPE,
      ...(annotations ? { annotations } : {}),
    }
    const annotatedType = annotations?.[ANNOTATION.predicateType]
    return {
      descriptor,
      ...(annotatedType ? { annotatedType } : {}),
      ...(json.subject?.digest ? { subject: json.subject.digest } : {}),
      bytes,
    }
  })
  return {
    api,
    source: api ? "the referrers API" : `the fallback tag ${fallbackTag(digest)}`,
    listed,
    bundles: read.filter((bundle): bundle is StoredBundle => bundle !== undefined),
    ...(fallbackIndex ? { fallbackIndex } : {}),
    requests: reads,
  }
}
