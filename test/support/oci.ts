/**
 * Pushes small but real OCI images to a registry over the distribution API: blobs, configs,
 * platform manifests, indexes with buildx-style attestation manifests, cosign-style signatures
 * and OCI referrers with a `subject`. Used to seed the real registry the tests run against.
 */
import { createHash } from "node:crypto"

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json"

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  platform?: { os: string; architecture: string; variant?: string }
  annotations?: Record<string, string>
}

const digestOf = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

export class OciPusher {
  constructor(
    private readonly baseUrl: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  async blob(repository: string, content: string | Buffer): Promise<Descriptor & { mediaType: string }> {
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content)
    const digest = digestOf(bytes)
    const start = await fetch(`${this.baseUrl}/v2/${repository}/blobs/uploads/`, {
      method: "POST",
      headers: this.headers,
    })
    if (start.status !== 202) throw new Error(`blob upload start answered ${start.status}: ${await start.text()}`)
    const location = new URL(start.headers.get("location")!, this.baseUrl)
    location.searchParams.set("digest", digest)
    const put = await fetch(location, {
      method: "PUT",
      headers: { ...this.headers, "content-type": "application/octet-stream" },
      body: new Uint8Array(bytes),
    })
    if (put.status !== 201) throw new Error(`blob upload answered ${put.status}: ${await put.text()}`)
    return { mediaType: "application/octet-stream", digest, size: bytes.length }
  }

  async manifest(repository: string, reference: string, body: object): Promise<Descriptor> {
    const bytes = Buffer.from(JSON.stringify(body))
    const mediaType = (body as { mediaType: string }).mediaType
    const response = await fetch(`${this.baseUrl}/v2/${repository}/manifests/${reference}`, {
      method: "PUT",
      headers: { ...this.headers, "content-type": mediaType },
      body: new Uint8Array(bytes),
    })
    if (response.status !== 201)
      throw new Error(`manifest PUT ${reference} answered ${response.status}: ${await response.text()}`)
    return { mediaType, digest: digestOf(bytes), size: bytes.length }
  }

  /** A one-layer image for a platform; `seed` makes its content (and digest) unique; `labels` go into its config beside `seed`. */
  async image(
    repository: string,
    seed: string,
    options: {
      platform?: string
      tag?: string
      subject?: Descriptor
      artifactType?: string
      labels?: Record<string, string>
    } = {},
  ): Promise<Descriptor> {
    const [os = "linux", architecture = "amd64", variant] = (options.platform ?? "linux/amd64").split("/")
    const layer = await this.blob(repository, `layer ${seed}`)
    const config = await this.blob(
      repository,
      JSON.stringify({
        architecture,
        os,
        ...(variant ? { variant } : {}),
        rootfs: { type: "layers", diff_ids: [layer.digest] },
        config: { Labels: { seed, ...options.labels } },
      }),
    )
    const body = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      ...(options.artifactType ? { artifactType: options.artifactType } : {}),
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer.digest, size: layer.size }],
      ...(options.subject
        ? {
            subject: {
              mediaType: options.subject.mediaType,
              digest: options.subject.digest,
              size: options.subject.size,
            },
          }
        : {}),
    }
    const pushed = await this.manifest(repository, options.tag ?? digestOf(Buffer.from(JSON.stringify(body))), body)
    return { ...pushed, platform: { os, architecture, ...(variant ? { variant } : {}) } }
  }

  /**
   * A multi-platform index as buildx makes it: one manifest per platform and, with
   * `attestations`, one `unknown/unknown` attestation manifest per platform.
   */
  async multiArch(
    repository: string,
    seed: string,
    platforms: string[],
    options: { tag?: string; attestations?: boolean; labels?: Record<string, string> } = {},
  ): Promise<{ index: Descriptor; children: Descriptor[] }> {
    const children: Descriptor[] = []
    for (const platform of platforms)
      children.push(await this.image(repository, `${seed} ${platform}`, { platform, labels: options.labels }))
    const attestations: Descriptor[] = []
    if (options.attestations) {
      for (const child of [...children]) {
        const attestation = await this.image(repository, `${seed} attestation ${child.digest}`, {
          platform: "unknown/unknown",
        })
        attestations.push({
          ...attestation,
          platform: { os: "unknown", architecture: "unknown" },
          annotations: {
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": child.digest,
          },
        })
      }
    }
    const all = [...children, ...attestations]
    const body = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: all }
    const bytes = Buffer.from(JSON.stringify(body))
    const index = await this.manifest(repository, options.tag ?? digestOf(bytes), body)
    return { index, children: all }
  }

  /** The descriptor of a manifest already in the registry (media type and size from a HEAD). */
  async describe(repository: string, digest: string): Promise<Descriptor> {
    const response = await fetch(`${this.baseUrl}/v2/${repository}/manifests/${digest}`, {
      method: "HEAD",
      headers: { ...this.headers, accept: [OCI_INDEX, OCI_MANIFEST].join(", ") },
    })
    if (response.status !== 200) throw new Error(`HEAD ${digest} answered ${response.status}`)
    return {
      mediaType: response.headers.get("content-type") ?? OCI_MANIFEST,
      digest,
      size: Number(response.headers.get("content-length") ?? 0),
    }
  }

  async tag(repository: string, tag: string, descriptor: Descriptor): Promise<void> {
    const response = await fetch(`${this.baseUrl}/v2/${repository}/manifests/${descriptor.digest}`, {
      headers: { ...this.headers, accept: descriptor.mediaType },
    })
    const bytes = Buffer.from(await response.arrayBuffer())
    const put = await fetch(`${this.baseUrl}/v2/${repository}/manifests/${tag}`, {
      method: "PUT",
      headers: { ...this.headers, "content-type": descriptor.mediaType },
      body: new Uint8Array(bytes),
    })
    if (put.status !== 201) throw new Error(`tag PUT ${tag} answered ${put.status}: ${await put.text()}`)
  }
}
