/**
 * A Sigstore bundle v0.3 written without cosign, the way `cosign sign|attest --key` (v3) writes
 * one: a DSSE envelope (node:crypto ECDSA P-256 over the DSSE pre-authentication encoding) of an
 * in-toto statement about an image, pushed as an OCI 1.1 referrer of that image, plus the
 * `sha256-<hex>` fallback index on a registry without the referrers API. Lets the tests show
 * that `cosign verify` accepts exactly this shape.
 */
import { createHash, createPublicKey, sign, type KeyObject } from "node:crypto"
import { OCI_INDEX, OCI_MANIFEST, OciPusher, type Descriptor } from "./oci.js"

export const BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
export const EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
export const IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"

/** The bundle of `statement` signed by `key`, as JSON bytes. */
export function dsseBundle(statement: object, key: KeyObject): Buffer {
  const payload = Buffer.from(JSON.stringify(statement))
  const pae = Buffer.concat([
    Buffer.from(`DSSEv1 ${IN_TOTO_PAYLOAD.length} ${IN_TOTO_PAYLOAD} ${payload.length} `),
    payload,
  ])
  const signature = sign("sha256", pae, key)
  const spki = createPublicKey(key).export({ type: "spki", format: "der" })
  return Buffer.from(
    JSON.stringify({
      mediaType: BUNDLE_V03,
      verificationMaterial: { publicKey: { hint: createHash("sha256").update(spki).digest("base64") } },
      dsseEnvelope: {
        payload: payload.toString("base64"),
        payloadType: IN_TOTO_PAYLOAD,
        signatures: [{ sig: signature.toString("base64") }],
      },
    }),
  )
}

/** An in-toto v1 statement about one image digest. */
export function statement(digest: string, predicateType: string, predicate: object): object {
  return {
    _type: "https://in-toto.io/Statement/v1",
    subject: [{ digest: { sha256: digest.replace(/^sha256:/, "") } }],
    predicateType,
    predicate,
  }
}

/**
 * Pushes `bundle` as a referrer of `subject` (manifest shape: cosign v3's), and, when
 * `fallbackTag`, appends it to the `sha256-<hex>` index as go-containerregistry does (a
 * descriptor with mediaType, digest, size and artifactType, sorted by digest). Returns the
 * referrer's descriptor.
 */
export async function pushBundleReferrer(
  baseUrl: string,
  repository: string,
  subject: Descriptor,
  bundle: Buffer,
  predicateType: string,
  options: { fallbackTag: boolean; created?: string },
): Promise<Descriptor> {
  const pusher = new OciPusher(baseUrl)
  const config = await pusher.blob(repository, "{}")
  const layer = await pusher.blob(repository, bundle)
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: BUNDLE_V03,
    config: { mediaType: EMPTY_CONFIG, digest: config.digest, size: config.size },
    layers: [{ mediaType: BUNDLE_V03, digest: layer.digest, size: layer.size }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: {
      "dev.sigstore.bundle.content": "dsse-envelope",
      "dev.sigstore.bundle.predicateType": predicateType,
      "org.opencontainers.image.created": options.created ?? new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    },
  }
  const digest = `sha256:${createHash("sha256").update(JSON.stringify(manifest)).digest("hex")}`
  const referrer = await pusher.manifest(repository, digest, manifest)
  if (options.fallbackTag) {
    const tag = subject.digest.replace(":", "-")
    const existing = await fetch(`${baseUrl}/v2/${repository}/manifests/${tag}`, { headers: { accept: OCI_INDEX } })
    const manifests = existing.status === 200 ? ((await existing.json()) as { manifests: Descriptor[] }).manifests : []
    if (existing.status !== 200 && existing.status !== 404)
      throw new Error(`fallback tag ${tag} answered ${existing.status}`)
    const entry = { mediaType: OCI_MANIFEST, digest: referrer.digest, size: referrer.size, artifactType: BUNDLE_V03 }
    const all = [...manifests.filter((m) => m.digest !== referrer.digest), entry].sort((a, b) =>
      a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0,
    )
    await pusher.manifest(repository, tag, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: all })
  }
  return referrer
}
