/**
 * Seeds a package the way a CD pipeline fills ghcr.io: real manifests in a real registry, and
 * one package version per manifest in the GitHub API server (index children and attestation
 * manifests as untagged versions, tags on the version they name).
 */
import type { ApiVersion, GitHubApi } from "./github-api.js"
import type { Descriptor, OciPusher } from "./oci.js"

export interface Seeded {
  digest: string
  children: string[]
  tags: string[]
}

export class PackageSeeder {
  readonly versions: ApiVersion[] = []
  private id = 1000
  private clock: number

  constructor(
    private readonly push: OciPusher,
    private readonly repository: string,
    start = Date.parse("2026-01-01T00:00:00Z"),
  ) {
    this.clock = start
  }

  private add(descriptor: Descriptor | string, tags: string[], minutes = 0): void {
    const digest = typeof descriptor === "string" ? descriptor : descriptor.digest
    this.clock += 60_000 * Math.max(1, minutes)
    const at = new Date(this.clock).toISOString()
    const existing = this.versions.find((v) => v.name === digest)
    if (existing) {
      existing.tags.push(...tags)
      return
    }
    this.versions.push({ id: ++this.id, name: digest, created_at: at, updated_at: at, tags: [...tags] })
  }

  /** An image (multi-arch index when several platforms) under `tags`, pushed to the registry. */
  async image(
    seed: string,
    tags: string[],
    options: { platforms?: string[]; attestations?: boolean } = {},
  ): Promise<Seeded> {
    const platforms = options.platforms ?? ["linux/amd64"]
    if (platforms.length === 1 && !options.attestations) {
      const image = await this.push.image(this.repository, seed, { platform: platforms[0], tag: tags[0] })
      for (const tag of tags.slice(1)) await this.push.tag(this.repository, tag, image)
      this.add(image, tags)
      return { digest: image.digest, children: [], tags }
    }
    const { index, children } = await this.push.multiArch(this.repository, seed, platforms, {
      tag: tags[0],
      attestations: options.attestations,
    })
    for (const tag of tags.slice(1)) await this.push.tag(this.repository, tag, index)
    for (const child of children) this.add(child, [])
    this.add(index, tags)
    return { digest: index.digest, children: children.map((c) => c.digest), tags }
  }

  /** A cosign-style signature (`sha256-<hex>.sig`) or a sigstore bundle (`sha256-<hex>`) of `subject`. */
  async referrer(subject: string, suffix: "" | ".sig" | ".att" | ".sbom"): Promise<Seeded> {
    const tag = `${subject.replace(":", "-")}${suffix}`
    const manifest = await this.push.image(this.repository, `referrer ${tag}`, { tag })
    this.add(manifest, [tag])
    return { digest: manifest.digest, children: [], tags: [tag] }
  }

  /**
   * An OCI 1.1 referrer pushed without a fallback tag (a signature or attestation): an untagged
   * manifest whose `subject` names `subject`, as cosign or oras push it to ghcr.io.
   */
  async subjectReferrer(
    subject: string,
    artifactType = "application/vnd.dev.sigstore.bundle.v0.3+json",
  ): Promise<Seeded> {
    const descriptor = await this.push.describe(this.repository, subject)
    const manifest = await this.push.image(
      this.repository,
      `subject referrer ${subject} ${artifactType} ${this.versions.length}`,
      { subject: descriptor, artifactType },
    )
    this.add(manifest, [])
    return { digest: manifest.digest, children: [], tags: [] }
  }

  /** An untagged orphan: an image pushed, then its tag moved away. */
  async orphan(seed: string): Promise<Seeded> {
    const image = await this.push.image(this.repository, `orphan ${seed}`)
    this.add(image, [])
    return { digest: image.digest, children: [], tags: [] }
  }

  /** A manifest pushed by other code (a signature bundle, a fallback index), as the package version ghcr.io shows for it. */
  record(digest: string, tags: string[] = []): void {
    this.add(digest, tags)
  }

  /** Registers the versions with the API server. */
  publish(api: GitHubApi, owner: string, packageName: string): void {
    api.addPackage(owner, packageName, this.versions)
  }
}
