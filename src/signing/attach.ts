/**
 * Attaching signed statements to a digest, as cosign v3 does: each bundle an OCI 1.1 artifact
 * manifest in the image's repository (artifact type and one layer the bundle media type, the
 * empty config, `subject` the image, annotations for the bundle content and predicate type),
 * listed by the registry's referrers API when it has one, else by the `sha256-<hex>` fallback
 * index, written once per publish. A re-run signs and adds only what is missing (decideAttach,
 * pure) and never rewrites a valid bundle.
 */
import { type Descriptor, type RegistryClient } from "../oci/client.js"
import { RegistryError, sha256Digest } from "../oci/manifest.js"
import { checkBundle, type IdentityRule } from "./bundle.js"
import {
  ANNOTATION,
  BUNDLE_MEDIA_TYPE,
  DSSE_CONTENT,
  EMPTY_CONFIG,
  fallbackTag,
  OCI_INDEX,
  PREDICATE,
} from "./constants.js"
import { type ExpectedRelease, provenanceMatches, provenanceSource } from "./judge.js"
import { exactPattern } from "./policy.js"
import { readAttached, type StoredBundle } from "./referrers.js"
import { type SignedStatement, type StatementSigner } from "./sign.js"
import { type Statement } from "./statement.js"
import { keyTrust, parsePublicKey, type Trust } from "./trust.js"

/** An attached bundle as decideAttach sees it: its predicate type and whether it still holds. */
export interface ExistingBundle {
  readonly predicateType: string
  /** Verified, by this signer, about this digest (and, provenance, this release). */
  readonly valid: boolean
}

/** The predicate types of `wanted` that no valid bundle covers yet, in `wanted`'s order. Pure. */
export function decideAttach(wanted: readonly string[], existing: readonly ExistingBundle[]): string[] {
  return wanted.filter((type) => !existing.some((bundle) => bundle.valid && bundle.predicateType === type))
}

/**
 * The fallback index's entries after a publish, pure: every entry already listed stays (another
 * tool's referrers too), given the artifact type and annotations of its manifest when it was read
 * (`known`); the added ones follow. Returns undefined when nothing changes (no write needed).
 */
export function fallbackEntries(
  current: readonly Descriptor[],
  known: readonly Descriptor[],
  added: readonly Descriptor[],
): Descriptor[] | undefined {
  const byDigest = new Map(known.map((d) => [d.digest, d]))
  const kept = current.map((entry) => {
    const read = byDigest.get(entry.digest)
    return read ? descriptorOf(read) : entry
  })
  const seen = new Set(kept.map((d) => d.digest))
  const next = [...kept, ...added.filter((d) => !seen.has(d.digest)).map(descriptorOf)]
  return JSON.stringify(next) === JSON.stringify(current) ? undefined : next
}

/** A descriptor in go-containerregistry's field order, plus annotations. */
function descriptorOf(d: Descriptor): Descriptor {
  return {
    mediaType: d.mediaType,
    size: d.size,
    digest: d.digest,
    ...(d.artifactType ? { artifactType: d.artifactType } : {}),
    ...(d.annotations ? { annotations: d.annotations } : {}),
  }
}

/** The artifact manifest of one bundle, in cosign v3's exact shape (field order included). */
export function bundleManifest(
  subject: Descriptor,
  layer: { digest: string; size: number },
  predicateType: string,
  created: Date,
): { body: Uint8Array; annotations: Record<string, string> } {
  const annotations = {
    [ANNOTATION.content]: DSSE_CONTENT,
    [ANNOTATION.predicateType]: predicateType,
    [ANNOTATION.created]: created.toISOString().replace(/\.\d+Z$/, "Z"),
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: EMPTY_CONFIG.mediaType,
      size: EMPTY_CONFIG.size,
      digest: EMPTY_CONFIG.digest,
      artifactType: BUNDLE_MEDIA_TYPE,
    },
    layers: [{ mediaType: BUNDLE_MEDIA_TYPE, size: layer.size, digest: layer.digest }],
    annotations,
    subject: { mediaType: subject.mediaType, size: subject.size, digest: subject.digest },
    artifactType: BUNDLE_MEDIA_TYPE,
  }
  return { body: Buffer.from(JSON.stringify(manifest)), annotations }
}

/** What attachBundles did. */
export interface AttachReport {
  /** The subject, as the added referrers name it (read only when something was added). */
  readonly subject?: Descriptor
  readonly api: boolean
  readonly added: readonly { predicateType: string; referrer: string }[]
  readonly kept: readonly { predicateType: string; referrer: string }[]
  /** Missing statements that were not made, and why (a later publish tries them again). */
  readonly skipped: readonly { predicateType: string; why: string }[]
  /** The fallback index was written (at most once). */
  readonly indexWritten: boolean
  /** Registry requests made. */
  readonly requests: number
}

/**
 * The statements a publish signs, by predicate type; made only when missing (the SBOM runs syft).
 * A source that cannot make its statement truthfully now returns `{ skipped: why }`: nothing is
 * signed for it, and the report says why.
 */
export type StatementSource = () => Statement | Skipped | Promise<Statement | Skipped>
export interface Skipped {
  readonly skipped: string
}

export interface AttachOptions {
  readonly client: RegistryClient
  /** `<owner>/<image>` inside the registry. */
  readonly repository: string
  /** The digest pods pull. */
  readonly digest: string
  readonly signer: StatementSigner
  /** By predicate type, in the order they are signed and pushed. */
  readonly statements: Readonly<Record<string, StatementSource>>
  /** The release: a provenance of another release does not count as there. */
  readonly expected: ExpectedRelease
  /** What an existing bundle is checked against: default, key mode: the signer's key. Keyless: required. */
  readonly trust?: Trust
  /** Keyless: whose bundles count as there; default: exactly the signer's own identity and issuer. */
  readonly identity?: IdentityRule
  readonly now?: () => Date
}

/**
 * Signs and attaches the missing statements: reads what is attached (decideAttach on the bundles
 * that verify with `trust`), signs only the missing ones, pushes each bundle (its layer, the
 * empty config when the registry lacks it, its manifest by digest) one after another, then,
 * without a referrers API, writes the fallback index once, merged with a fresh read of it.
 */
export async function attachBundles(options: AttachOptions): Promise<AttachReport> {
  const { client, repository, digest, signer } = options
  const trust =
    options.trust ??
    (signer.identity.kind === "key" ? keyTrust(parsePublicKey(signer.identity.publicKey, "signer")) : undefined)
  if (!trust)
    throw new Error("attachBundles: a keyless signer needs the trust (trusted root) its bundles verify against")
  // Keyless, a bundle counts as there only when this signer's identity made it (exactly).
  const identity =
    options.identity ??
    (signer.identity.kind === "keyless"
      ? {
          issuer: signer.identity.issuer,
          identity: new RegExp(`^${exactPattern(signer.identity.identity)}$`),
          pattern: exactPattern(signer.identity.identity),
        }
      : undefined)
  const state = await readAttached(client, repository, digest)
  let requests = state.requests
  const valid = (stored: StoredBundle) => {
    const check = checkBundle(stored.bytes, trust, identity)
    const statement = check.statement
    const aboutDigest = statement?.subject.some((s) => `sha256:${s.digest.sha256 ?? ""}` === digest) ?? false
    const current =
      statement?.predicateType !== PREDICATE.provenance ||
      provenanceMatches(provenanceSource(statement.predicate), options.expected)
    return {
      predicateType: statement?.predicateType ?? "",
      valid: check.verdict === "verified" && aboutDigest && current,
    }
  }
  const existing = state.bundles.map((stored) => ({ stored, ...valid(stored) }))
  const missing = decideAttach(Object.keys(options.statements), existing)
  const kept = existing
    .filter((e) => e.valid)
    .map((e) => ({ predicateType: e.predicateType, referrer: e.stored.descriptor.digest }))
  const added: { predicateType: string; referrer: string; descriptor: Descriptor }[] = []
  const skipped: { predicateType: string; why: string }[] = []
  let configThere: boolean | undefined
  let subject: Descriptor | undefined
  for (const type of missing) {
    if (!subject) {
      // The subject descriptor names the image's media type and size: read once, when something is added.
      const image = await client.manifest(repository, digest)
      requests++
      subject = { mediaType: image.mediaType, digest, size: image.body.length }
    }
    const statement = await options.statements[type]!()
    if ("skipped" in statement) {
      skipped.push({ predicateType: type, why: statement.skipped })
      continue
    }
    if (statement.predicateType !== type)
      throw new Error(`attachBundles: the statement given for ${type} is of type ${statement.predicateType}`)
    const signed: SignedStatement = await signer.sign(statement)
    const layer = await client.uploadBlob(repository, signed.bundle)
    requests += 2
    if (configThere === undefined) {
      configThere = await client.hasBlob(repository, EMPTY_CONFIG.digest)
      requests++
    }
    if (!configThere) {
      await client.uploadBlob(repository, Buffer.from("{}"))
      configThere = true
      requests += 2
    }
    const { body, annotations } = bundleManifest(subject, layer, type, options.now?.() ?? new Date())
    const referrer = sha256Digest(body)
    await client.putManifest(repository, referrer, { mediaType: "application/vnd.oci.image.manifest.v1+json", body })
    requests++
    added.push({
      predicateType: type,
      referrer,
      descriptor: {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: referrer,
        size: body.length,
        artifactType: BUNDLE_MEDIA_TYPE,
        annotations,
      },
    })
  }
  let indexWritten = false
  if (!state.api) {
    const known = state.bundles.map((b) => b.descriptor)
    const fresh = added.map((a) => a.descriptor)
    const listed = (state.fallbackIndex?.json.manifests ?? []) as Descriptor[]
    let entries = fallbackEntries(listed, known, fresh)
    if (entries) {
      // Read the index again just before writing it: another run may have added to it meanwhile.
      const again = await client.manifest(repository, fallbackTag(digest)).catch((error: unknown) => {
        if (error instanceof RegistryError && error.status === 404) return undefined
        throw error
      })
      requests++
      entries = fallbackEntries((again?.json.manifests ?? []) as Descriptor[], known, fresh)
    }
    if (entries) {
      const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }))
      await client.putManifest(repository, fallbackTag(digest), { mediaType: OCI_INDEX, body: index })
      requests++
      indexWritten = true
    }
  }
  return {
    ...(subject ? { subject } : {}),
    api: state.api,
    added: added.map(({ predicateType, referrer }) => ({ predicateType, referrer })),
    kept,
    skipped,
    indexWritten,
    requests,
  }
}
