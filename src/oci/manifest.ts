/** What the module reads of OCI and Docker manifests: media types, the fields it looks at, digests. */
import { createHash } from "node:crypto"

/** Every manifest kind we read: OCI and Docker, single-platform and index. */
export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ")

export const INDEX_MEDIA_TYPES = new Set([
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
])

export interface RegistryEndpoint {
  readonly scheme: "http" | "https"
  readonly host: string
}

export interface RegistryCredentials {
  readonly username: string
  readonly password: string
}

/** What a HEAD tells: the digest a reference resolves to and its media type. */
export interface ManifestHead {
  readonly digest: string
  readonly mediaType: string
}

/** A manifest as stored: its exact bytes (digest-verified) and the parsed JSON. */
export interface Manifest extends ManifestHead {
  readonly body: Uint8Array
  readonly json: ManifestJson
}

/** The fields of an image manifest or index that the module looks at. */
export interface ManifestJson {
  mediaType?: string
  manifests?: {
    digest: string
    mediaType?: string
    artifactType?: string
    platform?: { os?: string; architecture?: string; variant?: string }
    annotations?: Record<string, string>
  }[]
  subject?: { digest: string }
  artifactType?: string
  config?: { mediaType?: string }
  annotations?: Record<string, string>
}

/** A registry answered something the caller cannot continue from. */
export class RegistryError extends Error {
  override name = "RegistryError"
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message)
  }
}

export function sha256Digest(body: Uint8Array): string {
  return `sha256:${createHash("sha256").update(body).digest("hex")}`
}
