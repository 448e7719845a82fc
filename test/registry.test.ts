/**
 * The registry adapter against a real CNCF distribution registry, directly (plain http) and
 * behind a front that demands ghcr.io's bearer-token exchange. skopeo checks the results.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest"

import { promoteVersionTag } from "../src/publish.js"
import { RegistryClient, RegistryError, parseChallenge } from "../src/registry.js"
import { OciPusher } from "./support/oci.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { skopeoDigest } from "./support/skopeo.js"
import { startTokenRegistry, type TokenRegistry } from "./support/token-registry.js"

let registry: RunningRegistry
let front: TokenRegistry
let push: OciPusher
const creds = { username: "ci-bot", password: "ghp_s3cret:with/colon" }

beforeAll(async () => {
  registry = await startRegistry()
  front = await startTokenRegistry(registry.url, { ...creds, anonymousPull: true })
  push = new OciPusher(registry.url)
})
afterAll(async () => {
  await front?.stop()
  await registry?.stop()
})

const plain = () => new RegistryClient({ scheme: "http", host: registry.host })
const guarded = (password = creds.password) => new RegistryClient({ scheme: "http", host: front.host }, { username: creds.username, password })

describe("resolve", () => {
  test("a tag the repository does not have resolves to nothing", async () => {
    await push.image("org/absent", "a", { tag: "sha-1111111" })
    expect(await plain().resolve("org/absent", "v9.9.9")).toBeUndefined()
  })

  test("an unknown repository resolves to nothing", async () => {
    expect(await plain().resolve("org/never-pushed", "v1.0.0")).toBeUndefined()
  })

  test("a tag resolves to the digest skopeo sees, with its media type", async () => {
    const image = await push.image("org/resolve", "r", { tag: "v1.0.0" })
    const head = await plain().resolve("org/resolve", "v1.0.0")
    expect(head).toEqual({ digest: image.digest, mediaType: "application/vnd.oci.image.manifest.v1+json" })
    expect(skopeoDigest(registry.host, "org/resolve", "v1.0.0")).toBe(image.digest)
  })

  test("a manifest is read and its digest verified; an index lists its children", async () => {
    const { index, children } = await push.multiArch("org/index", "i", ["linux/amd64", "linux/arm64"], { tag: "v1.0.0", attestations: true })
    const manifest = await plain().manifest("org/index", index.digest)
    expect(manifest.digest).toBe(index.digest)
    expect(manifest.json.manifests?.map((m) => m.digest)).toEqual(children.map((c) => c.digest))
  })
})

describe("promoteVersionTag: a version tag never moves", () => {
  test("absent: the version tag is created at the build's digest", async () => {
    const built = await push.multiArch("org/promote", "p1", ["linux/amd64", "linux/arm64"], { tag: "sha-aaaaaaa" })
    await expect(promoteVersionTag(plain(), "org/promote", built.index.digest, "v1.0.0")).resolves.toBe("created")
    expect(skopeoDigest(registry.host, "org/promote", "v1.0.0")).toBe(built.index.digest)
    expect(skopeoDigest(registry.host, "org/promote", "sha-aaaaaaa")).toBe(built.index.digest)
  })

  test("same digest: a re-run succeeds and changes nothing", async () => {
    const built = await push.image("org/rerun", "p2", { tag: "sha-bbbbbbb" })
    await promoteVersionTag(plain(), "org/rerun", built.digest, "v1.0.0")
    await expect(promoteVersionTag(plain(), "org/rerun", built.digest, "v1.0.0")).resolves.toBe("unchanged")
    expect(skopeoDigest(registry.host, "org/rerun", "v1.0.0")).toBe(built.digest)
  })

  test("different digest: refused, naming both digests, and the tag stays where it was", async () => {
    const old = await push.image("org/conflict", "old", { tag: "v1.0.0" })
    const built = await push.image("org/conflict", "new", { tag: "sha-ccccccc" })
    const attempt = promoteVersionTag(plain(), "org/conflict", built.digest, "v1.0.0")
    await expect(attempt).rejects.toThrow(RegistryError)
    await expect(promoteVersionTag(plain(), "org/conflict", built.digest, "v1.0.0")).rejects.toThrow(
      new RegExp(`org/conflict:v1.0.0 already exists at ${old.digest}; this build is ${built.digest}`),
    )
    expect(skopeoDigest(registry.host, "org/conflict", "v1.0.0")).toBe(old.digest)
  })
})

describe("a registry that demands a token (ghcr.io's exchange)", () => {
  test("401 + Bearer challenge, token from the realm with basic auth, then the request with the bearer", async () => {
    const built = await push.image("org/guarded", "g", { tag: "sha-ddddddd" })
    const client = guarded()
    await expect(promoteVersionTag(client, "org/guarded", built.digest, "v2.0.0")).resolves.toBe("created")
    expect(skopeoDigest(registry.host, "org/guarded", "v2.0.0")).toBe(built.digest)
    const tokenRequests = front.log.filter((entry) => entry.path.startsWith("/token"))
    expect(tokenRequests.every((entry) => entry.auth === "Basic")).toBe(true)
    expect(tokenRequests.map((entry) => decodeURIComponent(entry.path))).toEqual(
      expect.arrayContaining([expect.stringContaining("scope=repository:org/guarded:pull"), expect.stringContaining("scope=repository:org/guarded:pull,push")]),
    )
    // Tokens are reused: a second resolve of the same repository asks for no new token.
    const before = front.log.filter((entry) => entry.path.startsWith("/token")).length
    await client.resolve("org/guarded", "v2.0.0")
    expect(front.log.filter((entry) => entry.path.startsWith("/token")).length).toBe(before)
  })

  test("wrong credentials: a clear error that never contains the password", async () => {
    await push.image("org/denied", "d", { tag: "sha-eeeeeee" })
    const attempt = guarded("wrong-password").manifest("org/denied", "sha-eeeeeee")
    await expect(attempt).rejects.toThrow(/token request to http:\/\/127\.0\.0\.1:\d+\/token for scope repository:org\/denied:pull answered 401: the registry refused the user name or token/)
    await attempt.catch((error: Error) => expect(error.message).not.toContain("wrong-password"))
  })

  test("a public image: anonymous token requests are enough to read", async () => {
    const image = await push.image("org/public", "pub", { tag: "v1.0.0" })
    const anonymous = new RegistryClient({ scheme: "http", host: front.host })
    expect((await anonymous.resolve("org/public", "v1.0.0"))?.digest).toBe(image.digest)
  })

  test.each([
    ['Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/i:pull"', { scheme: "bearer", params: { realm: "https://ghcr.io/token", service: "ghcr.io", scope: "repository:o/i:pull" } }],
    ['Basic realm="Registry Realm"', { scheme: "basic", params: { realm: "Registry Realm" } }],
  ])("challenge %s", (header, expected) => {
    expect(parseChallenge(header)).toEqual(expected)
  })
})
