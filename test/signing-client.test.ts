/**
 * The registry client's additions for signing, through the token front GHCR's exchange is
 * modelled on (test/support/token-registry.ts) before Debian's docker-registry: a blob upload
 * (POST, then PUT to the Location with ?digest=), a session the registry lost reopened once, an
 * upload Location on another host refused (the token never leaves the registry's host), a
 * referrers read that is undefined without the API, and a publish that rides out a 503.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, test } from "vitest"
import { RegistryClient } from "../src/oci/client.js"
import { sha256Digest } from "../src/oci/manifest.js"
import { attachBundles } from "../src/signing/attach.js"
import { PREDICATE } from "../src/signing/constants.js"
import { keySigner, newSigningKey } from "../src/signing/sign.js"
import { buildBusyboxImage, pushImage, type BuiltImage } from "./support/busybox-image.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { RELEASE, statementsOf } from "./support/signed-image.js"
import { type SpdxDocument } from "./support/syft.js"
import { startTokenRegistry, type TokenRegistry } from "./support/token-registry.js"

const USER = "meetinity"
const PASSWORD = "ghp_signing_test_token"
const repository = "meetinity/api-gateway"
let work: string
let image: BuiltImage
let relative: RunningRegistry
let absolute: RunningRegistry
let front: TokenRegistry
let absoluteFront: TokenRegistry

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "signing-client-"))
  image = buildBusyboxImage(work)
  // distribution 2.8 answers absolute upload Locations (its own host) unless told otherwise.
  process.env.REGISTRY_HTTP_RELATIVEURLS = "true"
  relative = await startRegistry()
  delete process.env.REGISTRY_HTTP_RELATIVEURLS
  absolute = await startRegistry()
  front = await startTokenRegistry(relative.url, { username: USER, password: PASSWORD })
  absoluteFront = await startTokenRegistry(absolute.url, { username: USER, password: PASSWORD })
}, 60_000)

afterAll(async () => {
  await Promise.all([front?.stop(), absoluteFront?.stop()])
  await Promise.all([relative?.stop(), absolute?.stop()])
  rmSync(work, { recursive: true, force: true })
})

const clientFor = (registry: TokenRegistry) =>
  new RegistryClient(
    { scheme: "http", host: registry.host },
    { username: USER, password: PASSWORD },
    { msPerSecond: 1 },
  )

describe("blob upload", () => {
  test("POST opens the session, PUT <Location>?digest= closes it; the blob reads back", async () => {
    const client = clientFor(front)
    const bytes = Buffer.from("a bundle, or any blob")
    const before = front.log.length
    expect(await client.uploadBlob(repository, bytes)).toEqual({ digest: sha256Digest(bytes), size: bytes.length })
    const calls = front.log
      .slice(before)
      .map((e) => `${e.method} ${e.path.replace(/\/uploads\/[^?]+\?.*$/, "/uploads/<session>")} ${e.auth}`)
    expect(calls).toEqual([
      `POST /v2/${repository}/blobs/uploads/ `,
      expect.stringMatching(/^GET \/token\?.*scope=repository%3Ameetinity%2Fapi-gateway%3Apull%2Cpush Basic$/),
      `POST /v2/${repository}/blobs/uploads/ Bearer`,
      `PUT /v2/${repository}/blobs/uploads/<session> Bearer`,
    ])
    expect(Buffer.from(await client.blob(repository, sha256Digest(bytes)))).toEqual(bytes)
    expect(await client.hasBlob(repository, sha256Digest(bytes))).toBe(true)
    expect(await client.hasBlob(repository, sha256Digest(Buffer.from("never uploaded")))).toBe(false)
  })

  test("a session the registry lost (404 on the PUT) is opened once more", async () => {
    const client = clientFor(front)
    await client.hasBlob(repository, sha256Digest(Buffer.from("warm the tokens")))
    await client.uploadBlob(repository, Buffer.from("warm the push token"))
    front.addFault({ method: "PUT", path: /\/blobs\/uploads\//, times: 1, fault: { status: 404 } })
    const before = front.log.length
    const bytes = Buffer.from("uploaded on the second session")
    await client.uploadBlob(repository, bytes)
    expect(front.log.slice(before).map((e) => e.method)).toEqual(["POST", "PUT", "POST", "PUT"])
    expect(await client.hasBlob(repository, sha256Digest(bytes))).toBe(true)
  })

  test("an upload Location on another host is refused: the token is not sent there", async () => {
    const failure = await clientFor(absoluteFront)
      .uploadBlob(repository, Buffer.from("x"))
      .catch((e: Error) => e)
    expect(String(failure)).toContain(
      `${absoluteFront.host}/${repository}: the blob upload's Location "http://${absolute.host}/v2/${repository}/blobs/uploads/`,
    )
    expect(String(failure)).toContain("is not on this repository")
    expect(absolute.host).not.toBe(absoluteFront.host)
  })
})

describe("referrers and a publish through the front", () => {
  test("no referrers API: undefined, so the fallback tag is read", async () => {
    expect(await clientFor(front).referrers(repository, image.digest)).toBeUndefined()
  })

  test("a 503 on a bundle's manifest PUT is tried again; the publish completes", async () => {
    pushImage(image, relative.host, repository, RELEASE.version)
    front.addFault({ method: "PUT", path: /\/manifests\/sha256:/, times: 1, fault: { status: 503, retryAfter: "1" } })
    const sbom = { spdxVersion: "SPDX-2.3", name: "busybox", packages: [] } as unknown as SpdxDocument
    const report = await attachBundles({
      client: clientFor(front),
      repository,
      digest: image.digest,
      signer: keySigner(newSigningKey().privateKey),
      statements: statementsOf(`ghcr.io/${repository}`, image.digest, sbom),
      expected: RELEASE,
    })
    expect(report.added.map((a) => a.predicateType)).toEqual(Object.values(PREDICATE))
    expect(report.indexWritten).toBe(true)
    const log = front.log.map((e) => `${e.method} ${e.path}`).join("\n")
    expect(log).not.toContain(PASSWORD)
  })
})
