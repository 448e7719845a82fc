/**
 * The one OCI registry client: manifest HEAD/GET/PUT, blob GET and upload, and the referrers API,
 * over the distribution API with the token
 * exchange ghcr.io uses (`401` + `WWW-Authenticate: Bearer realm=...,service=...,scope=...`,
 * then `GET realm?service=...&scope=...` with basic auth). Publishing, delivery and retention
 * share it; nobody else talks to a registry over HTTP.
 *
 * Credentials are held in memory only (transport.ts). No message built here ever contains them.
 */
import {
  type Manifest,
  MANIFEST_ACCEPT,
  type ManifestHead,
  type ManifestJson,
  type RegistryCredentials,
  type RegistryEndpoint,
  RegistryError,
  sha256Digest,
} from "./manifest.js"
import { RegistryTransport, type RegistryClientOptions } from "./transport.js"

/** An OCI content descriptor, as an image index (and the referrers API) lists one. */
export interface Descriptor {
  readonly mediaType: string
  readonly digest: string
  readonly size: number
  readonly artifactType?: string
  readonly annotations?: Readonly<Record<string, string>>
}

export class RegistryClient {
  private readonly transport: RegistryTransport

  constructor(
    readonly endpoint: RegistryEndpoint,
    credentials?: RegistryCredentials,
    options: RegistryClientOptions = {},
  ) {
    this.transport = new RegistryTransport(endpoint, credentials, options)
  }

  /** The digest a tag or digest resolves to, or `undefined` when the registry does not have it. */
  async resolve(repository: string, reference: string): Promise<ManifestHead | undefined> {
    const response = await this.transport.send("HEAD", repository, `manifests/${reference}`, {
      accept: MANIFEST_ACCEPT,
    })
    if (response.status === 404) return undefined
    await this.transport.expectOk(response, "HEAD", repository, reference)
    const digest = response.headers.get("docker-content-digest")
    if (digest) return { digest, mediaType: response.headers.get("content-type") ?? "" }
    // Some registries leave the digest out of HEAD answers: read the body once.
    const manifest = await this.manifest(repository, reference)
    return { digest: manifest.digest, mediaType: manifest.mediaType }
  }

  /** The manifest bytes of a tag or digest; the digest is verified against the bytes. */
  async manifest(repository: string, reference: string): Promise<Manifest> {
    const response = await this.transport.send("GET", repository, `manifests/${reference}`, { accept: MANIFEST_ACCEPT })
    await this.transport.expectOk(response, "GET", repository, reference)
    const body = new Uint8Array(await response.arrayBuffer())
    const digest = sha256Digest(body)
    const claimed = reference.startsWith("sha256:") ? reference : response.headers.get("docker-content-digest")
    if (claimed && claimed !== digest) {
      throw new RegistryError(
        `${this.transport.where(repository, reference)}: the manifest's bytes hash to ${digest}, not ${claimed}; refusing to trust it`,
      )
    }
    let json: ManifestJson
    try {
      json = JSON.parse(new TextDecoder().decode(body)) as ManifestJson
    } catch {
      throw new RegistryError(`${this.transport.where(repository, reference)}: the manifest is not JSON`)
    }
    const mediaType = json.mediaType ?? response.headers.get("content-type") ?? ""
    return { digest, mediaType, body, json }
  }

  /**
   * Every tag of a repository (`GET /v2/<name>/tags/list`), following the distribution spec's
   * pagination: `n` asks for a page size, and a `Link: <...>; rel="next"` header names the next
   * page (registries that do not paginate, such as distribution 2.8, answer everything at once).
   * A repository the registry does not know has no tags.
   */
  async tags(repository: string, pageSize = 1000): Promise<string[]> {
    const tags: string[] = []
    const seen = new Set<string>()
    let path = `tags/list?n=${pageSize}`
    for (let page = 1; ; page++) {
      if (page > 10_000)
        throw new RegistryError(`${this.endpoint.host}/${repository}: the tag list did not end after 10,000 pages`)
      const response = await this.transport.send("GET", repository, path, { accept: "application/json" })
      if (response.status === 404 && page === 1) {
        await response.arrayBuffer().catch(() => undefined)
        return []
      }
      await this.transport.expectOk(response, "GET", repository, "tags/list")
      const body = (await response.json().catch(() => undefined)) as { tags?: unknown } | undefined
      if (!body || (body.tags !== null && body.tags !== undefined && !Array.isArray(body.tags)))
        throw new RegistryError(`${this.endpoint.host}/${repository}: the tag list is not JSON with a "tags" list`)
      for (const tag of (body.tags ?? []) as unknown[]) {
        if (typeof tag === "string" && !seen.has(tag)) {
          seen.add(tag)
          tags.push(tag)
        }
      }
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(response.headers.get("link") ?? "")?.[1]
      if (!next) return tags
      // The next page's URL, relative to the registry (the spec's form) or absolute on the same host.
      const url = new URL(next, `${this.endpoint.scheme}://${this.endpoint.host}`)
      const prefix = `/v2/${repository}/`
      if (url.host !== this.endpoint.host || !url.pathname.startsWith(prefix))
        throw new RegistryError(
          `${this.endpoint.host}/${repository}: the tag list's next page ${JSON.stringify(next)} is not on this repository`,
        )
      path = `${url.pathname.slice(prefix.length)}${url.search}`
    }
  }

  /** A blob's bytes (an image config, for instance), verified against its digest. */
  async blob(repository: string, digest: string): Promise<Uint8Array> {
    const response = await this.transport.send("GET", repository, `blobs/${digest}`, {})
    await this.transport.expectOk(response, "GET", repository, digest)
    const body = new Uint8Array(await response.arrayBuffer())
    if (sha256Digest(body) !== digest) {
      throw new RegistryError(
        `${this.transport.where(repository, digest)}: the blob's bytes hash to ${sha256Digest(body)}, not ${digest}; refusing to trust it`,
      )
    }
    return body
  }

  /** Stores manifest bytes under a tag (or digest); returns the digest the registry reports. */
  async putManifest(
    repository: string,
    reference: string,
    manifest: { mediaType: string; body: Uint8Array },
  ): Promise<string> {
    const response = await this.transport.send(
      "PUT",
      repository,
      `manifests/${reference}`,
      {
        "content-type": manifest.mediaType,
      },
      manifest.body,
    )
    await this.transport.expectOk(response, "PUT", repository, reference)
    return response.headers.get("docker-content-digest") ?? sha256Digest(manifest.body)
  }

  /** Whether the registry has a blob (`HEAD /v2/<name>/blobs/<digest>`). */
  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const response = await this.transport.send("HEAD", repository, `blobs/${digest}`, {})
    if (response.status === 404) return false
    await this.transport.expectOk(response, "HEAD", repository, digest)
    return true
  }

  /**
   * Stores a blob in one monolithic upload, as the distribution spec says: `POST
   * /v2/<name>/blobs/uploads/` opens an upload session, `PUT <Location>?digest=<digest>` with the
   * bytes closes it. A session the registry lost (404 on the PUT) is opened once more. Returns the
   * blob's digest and size.
   */
  async uploadBlob(repository: string, bytes: Uint8Array): Promise<{ digest: string; size: number }> {
    const digest = sha256Digest(bytes)
    for (let attempt = 1; ; attempt++) {
      const start = await this.transport.send("POST", repository, "blobs/uploads/", { "content-length": "0" })
      await this.transport.expectOk(start, "POST", repository, "blobs/uploads/")
      await start.arrayBuffer().catch(() => undefined)
      const location = start.headers.get("location")
      if (!location)
        throw new RegistryError(`POST ${this.endpoint.host}/${repository}/blobs/uploads/ answered without a Location`)
      const path = this.pathOnRepository(repository, location, "the blob upload's Location")
      const put = await this.transport.send(
        "PUT",
        repository,
        `${path}${path.includes("?") ? "&" : "?"}digest=${encodeURIComponent(digest)}`,
        { "content-type": "application/octet-stream" },
        bytes,
      )
      if (put.status === 404 && attempt === 1) {
        await put.arrayBuffer().catch(() => undefined)
        continue
      }
      await this.transport.expectOk(put, "PUT", repository, digest)
      await put.arrayBuffer().catch(() => undefined)
      const stored = put.headers.get("docker-content-digest")
      if (stored && stored !== digest)
        throw new RegistryError(
          `${this.transport.where(repository, digest)}: the registry stored the blob as ${stored}, not ${digest}`,
        )
      return { digest, size: bytes.length }
    }
  }

  /**
   * The referrers of a digest (`GET /v2/<name>/referrers/<digest>`, OCI distribution spec 1.1):
   * every descriptor of every page (`Link: <...>; rel="next"`), or `undefined` when the registry
   * answers 404, i.e. has no referrers API (distribution 2.8, GHCR today): then the
   * `sha256-<hex>` fallback tag is where referrers are listed.
   */
  async referrers(repository: string, digest: string): Promise<Descriptor[] | undefined> {
    const found: Descriptor[] = []
    let path = `referrers/${digest}`
    for (let page = 1; ; page++) {
      if (page > 1000)
        throw new RegistryError(
          `${this.transport.where(repository, digest)}: the referrers did not end after 1,000 pages`,
        )
      const response = await this.transport.send("GET", repository, path, {
        accept: "application/vnd.oci.image.index.v1+json",
      })
      if (response.status === 404 && page === 1) {
        await response.arrayBuffer().catch(() => undefined)
        return undefined
      }
      await this.transport.expectOk(response, "GET", repository, `referrers/${digest}`)
      const body = (await response.json().catch(() => undefined)) as { manifests?: unknown } | undefined
      if (!body || !Array.isArray(body.manifests))
        throw new RegistryError(
          `${this.transport.where(repository, digest)}: the referrers answer is not an image index with a "manifests" list`,
        )
      for (const entry of body.manifests as unknown[]) if (isDescriptor(entry)) found.push(entry)
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(response.headers.get("link") ?? "")?.[1]
      if (!next) return found
      path = this.pathOnRepository(repository, next, "the referrers' next page")
    }
  }

  /** A URL the registry gave (absolute on this host, or a path) as a path under `/v2/<repository>/`. */
  private pathOnRepository(repository: string, given: string, what: string): string {
    const url = new URL(given, `${this.endpoint.scheme}://${this.endpoint.host}`)
    const prefix = `/v2/${repository}/`
    if (url.host !== this.endpoint.host || !url.pathname.startsWith(prefix))
      throw new RegistryError(
        `${this.endpoint.host}/${repository}: ${what} ${JSON.stringify(given)} is not on this repository`,
      )
    return `${url.pathname.slice(prefix.length)}${url.search}`
  }
}

/** An entry of an index that has what a descriptor must have: a media type, a sha256 digest and a size. */
function isDescriptor(value: unknown): value is Descriptor {
  const entry = value as Partial<Descriptor> | null
  return (
    typeof entry === "object" &&
    entry !== null &&
    typeof entry.mediaType === "string" &&
    typeof entry.digest === "string" &&
    /^sha256:[0-9a-f]{64}$/.test(entry.digest) &&
    typeof entry.size === "number"
  )
}
