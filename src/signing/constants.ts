/**
 * The names signing and verification agree on with cosign v3, GitHub's attest actions and Kyverno:
 * media types, in-toto statement and predicate types, and the annotations of a bundle referrer.
 */

/** A Sigstore bundle v0.3 (what cosign v3 and GitHub's attest actions store as the referrer's one layer). */
export const BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"

/** The empty OCI config (`{}`, two bytes) of an artifact manifest. */
export const EMPTY_CONFIG = {
  mediaType: "application/vnd.oci.empty.v1+json",
  digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
  size: 2,
} as const

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json"

/** The DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
/** in-toto statement v1 (what the module writes); cosign v3's `attest` still writes v0.1, which the gate reads too. */
export const IN_TOTO_STATEMENT_V1 = "https://in-toto.io/Statement/v1"
export const IN_TOTO_STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"

/** The three predicate types publish attaches, by the short name policies and messages use. */
export const PREDICATE = {
  /** `cosign sign` (v3): an empty predicate that says "signed". */
  signature: "https://sigstore.dev/cosign/sign/v1",
  /** SLSA build provenance v1 (`cosign attest --type slsaprovenance1`, GitHub's attest-build-provenance). */
  provenance: "https://slsa.dev/provenance/v1",
  /** An SPDX 2.3 JSON document (syft's `spdx-json`). */
  sbom: "https://spdx.dev/Document/v2.3",
} as const

export type PredicateName = keyof typeof PREDICATE

/** The short name of a predicate type the module knows (`signature`, `provenance`, `sbom`), else the type itself. */
export function predicateName(type: string): string {
  const entry = Object.entries(PREDICATE).find(([, value]) => value === type)
  return entry ? entry[0] : type
}

/** The annotations cosign v3 puts on a bundle referrer; Kyverno and `cosign tree` read the predicate type from it. */
export const ANNOTATION = {
  content: "dev.sigstore.bundle.content",
  predicateType: "dev.sigstore.bundle.predicateType",
  created: "org.opencontainers.image.created",
} as const

/** The value of `dev.sigstore.bundle.content` for a DSSE bundle. */
export const DSSE_CONTENT = "dsse-envelope"

/** The `sha256-<hex>` tag of the referrers fallback index of a digest (OCI distribution spec 1.1). */
export function fallbackTag(digest: string): string {
  return digest.replace(/^sha256:/, "sha256-")
}
