/**
 * The registry adapter against a real CNCF distribution registry, directly (plain http) and
 * behind a front that demands ghcr.io's bearer-token exchange. skopeo checks the results.
 */
import { createServer, type Server } from "node:http"

import { afterAll, beforeAll, describe, expect, test } from "vitest"

import { RegistryClient } from "../src/oci/client.js"
import { parseChallenge } from "../src/oci/transport.js"
import { redact } from "../src/common/redact.js"
import { RegistryError } from "../src/oci/manifest.js"
import { promoteVersionTag } from "../src/publish/registry.js"
import { OciPusher } from "./support/oci.js"
import { freePort, startRegistry, type RunningRegistry } from "./support/registry.js"
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
const guarded = (password = creds.password) =>
  new RegistryClient({ scheme: "http", host: front.host }, { username: creds.username, password })

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
    const { index, children } = await push.multiArch("org/index", "i", ["linux/amd64", "linux/arm64"], {
      tag: "v1.0.0",
      attestations: true,
    })
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
      expect.arrayContaining([
        expect.stringContaining("scope=repository:org/guarded:pull"),
        expect.stringContaining("scope=repository:org/guarded:pull,push"),
      ]),
    )
    // Tokens are reused: a second resolve of the same repository asks for no new token.
    const before = front.log.filter((entry) => entry.path.startsWith("/token")).length
    await client.resolve("org/guarded", "v2.0.0")
    expect(front.log.filter((entry) => entry.path.startsWith("/token")).length).toBe(before)
  })

  test("wrong credentials: a clear error that never contains the password", async () => {
    await push.image("org/denied", "d", { tag: "sha-eeeeeee" })
    const attempt = guarded("wrong-password").manifest("org/denied", "sha-eeeeeee")
    await expect(attempt).rejects.toThrow(
      /token request to http:\/\/127\.0\.0\.1:\d+\/token for scope repository:org\/denied:pull answered 401: the registry refused the user name or token/,
    )
    await attempt.catch((error: Error) => expect(error.message).not.toContain("wrong-password"))
  })

  test("a public image: anonymous token requests are enough to read", async () => {
    const image = await push.image("org/public", "pub", { tag: "v1.0.0" })
    const anonymous = new RegistryClient({ scheme: "http", host: front.host })
    expect((await anonymous.resolve("org/public", "v1.0.0"))?.digest).toBe(image.digest)
  })

  test.each([
    [
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/i:pull"',
      {
        scheme: "bearer",
        params: { realm: "https://ghcr.io/token", service: "ghcr.io", scope: "repository:o/i:pull" },
      },
    ],
    ['Basic realm="Registry Realm"', { scheme: "basic", params: { realm: "Registry Realm" } }],
  ])("challenge %s", (header, expected) => {
    expect(parseChallenge(header)).toEqual(expected)
  })
})

/** A local HTTP server for one test; answers with `handle`. */
async function serve(handle: Parameters<typeof createServer>[1]): Promise<{ host: string; server: Server }> {
  const server = createServer(handle)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  return { host: `127.0.0.1:${typeof address === "object" && address ? address.port : 0}`, server }
}

describe("a registry that cannot be reached, or answers something else than asked", () => {
  test("nothing listening: said in words, with the network's code, instead of fetch failed", async () => {
    const host = `127.0.0.1:${await freePort()}`
    const attempt = new RegistryClient({ scheme: "http", host }).resolve("org/x", "v1.0.0")
    await expect(attempt).rejects.toThrow(
      `HEAD http://${host}/v2/org/x/manifests/v1.0.0: could not reach the registry: nothing answers at http://${host} (ECONNREFUSED: connection refused)`,
    )
    await expect(attempt).rejects.not.toThrow(/fetch failed/)
  })

  test("HTTPS to a registry that speaks plain HTTP (the real docker-registry): said so, with the way out", async () => {
    const attempt = new RegistryClient({ scheme: "https", host: registry.host }).manifest("org/x", "v1.0.0")
    await expect(attempt).rejects.toThrow(
      `GET https://${registry.host}/v2/org/x/manifests/v1.0.0: https://${registry.host} answered plain HTTP to an HTTPS request (ERR_SSL_WRONG_VERSION_NUMBER): a registry that only speaks plain http is given as http://${registry.host}`,
    )
  })

  test("an unknown host: said so", async () => {
    await expect(
      new RegistryClient({ scheme: "https", host: "registry.invalid" }).resolve("org/x", "v1"),
    ).rejects.toThrow(/could not reach the registry: the host registry\.invalid is not known \((ENOTFOUND|EAI_AGAIN)\)/)
  })
})

describe("registry error bodies never carry credentials", () => {
  const password = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
  const basic = Buffer.from(`ci-bot:${password}`).toString("base64")

  test.each([
    ["a proxy echoing Authorization: Basic base64(user:token)", "basic"],
    ["a proxy echoing the bearer token it was sent", "bearer"],
  ])("%s", async (_name, scheme) => {
    let bearer = ""
    const proxy = await serve((request, response) => {
      const authorization = request.headers.authorization ?? ""
      if (request.url?.startsWith("/token")) {
        bearer = `tok${"x9".repeat(20)}`
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: bearer }))
        return
      }
      if (!authorization) {
        const challenge =
          scheme === "basic"
            ? 'Basic realm="proxy"'
            : `Bearer realm="http://${proxy.host}/token",service="proxy",scope="repository:org/x:pull"`
        response.writeHead(401, { "www-authenticate": challenge }).end()
        return
      }
      // What misconfigured proxies do: echo the request, headers and all.
      response
        .writeHead(502, { "content-type": "text/plain" })
        .end(
          `upstream refused GET ${request.url} with headers {"authorization":"${authorization}","user":"ci-bot"}; password=${password}`,
        )
    })
    try {
      const attempt = new RegistryClient(
        { scheme: "http", host: proxy.host },
        { username: "ci-bot", password },
      ).manifest("org/x", "v1.0.0")
      await expect(attempt).rejects.toThrow(
        /GET 127\.0\.0\.1:\d+\/org\/x:v1\.0\.0 answered 502 \(upstream refused GET \/v2\/org\/x\/manifests\/v1\.0\.0 with headers .*\[redacted\]/,
      )
      const message = await attempt.catch((error: Error) => error.message)
      expect(message).not.toContain(password)
      expect(message).not.toContain(basic)
      expect(message).not.toContain(Buffer.from(`ci-bot:${password}`).toString("base64").slice(0, 24))
      if (bearer) expect(message).not.toContain(bearer)
    } finally {
      proxy.server.close()
    }
  })

  test.each([
    ["Authorization: Basic dXNlcjpnaHBfc2VjcmV0dG9rZW4xMjM0NTY=", "Authorization: Basic [redacted]"],
    ['{"authorization":"Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc"}', '{"authorization":"Bearer [redacted]"}'],
    ["token=ghs_abcdefghijklmnopqrstuvwxyz0123", "token=[redacted]"],
    ["manifest unknown: the token is invalid", "manifest unknown: the token is invalid"],
  ])("redact(%j)", (text, expected) => {
    expect(redact(text)).toBe(expected)
  })
})

describe("transient answers are tried again, bounded, as the GitHub client does", () => {
  const quick = () =>
    new RegistryClient(
      { scheme: "http", host: front.host },
      { username: creds.username, password: creds.password },
      { msPerSecond: 10 },
    )

  test.each([
    ["a 503 with Retry-After", { status: 503 as const, retryAfter: "2" }],
    ["a 429", { status: 429 as const }],
    ["a 502 without Retry-After", { status: 502 as const }],
    ["a connection reset", { reset: true as const }],
  ])("%s, twice, then the answer: read", async (_name, fault) => {
    const image = await push.image("org/transient", `t ${_name}`, { tag: `v1.0.${_name.length}` })
    front.addFault({ method: "GET", path: /\/v2\/org\/transient\/manifests\//, times: 2, fault })
    const before = front.log.length
    expect((await quick().manifest("org/transient", `v1.0.${_name.length}`)).digest).toBe(image.digest)
    // The first request's 401 (the token exchange), the two faults, the answer.
    expect(front.log.slice(before).filter((r) => r.method === "GET" && r.path.includes("/manifests/"))).toHaveLength(4)
  })

  test("a Retry-After is waited for (at the client's pace) before the next try", async () => {
    await push.image("org/retry-after", "ra", { tag: "v1.0.0" })
    front.addFault({
      method: "HEAD",
      path: /\/v2\/org\/retry-after\//,
      times: 1,
      fault: { status: 503, retryAfter: "30" },
    })
    const started = Date.now()
    expect(await quick().resolve("org/retry-after", "v1.0.0")).toBeDefined()
    // 30 s at 10 ms a second: at least 300 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
  })

  test("a registry that keeps failing: four tries, then the answer it gave, with what the registry said", async () => {
    await push.image("org/down", "d", { tag: "v1.0.0" })
    front.addFault({ method: "GET", path: /\/v2\/org\/down\//, times: 4, fault: { status: 503 } })
    const before = front.log.length
    await expect(quick().manifest("org/down", "v1.0.0")).rejects.toThrow(/GET .*org\/down:v1\.0\.0 answered 503/)
    // The 401 of the token exchange, then four tries.
    expect(front.log.slice(before).filter((r) => r.path.includes("/org/down/"))).toHaveLength(5)
  })

  test("nothing answering at all: four tries, then says so", async () => {
    const host = `127.0.0.1:${await freePort()}`
    const client = new RegistryClient({ scheme: "http", host }, undefined, { msPerSecond: 1 })
    await expect(client.resolve("org/x", "v1.0.0")).rejects.toThrow(/ECONNREFUSED.*\(tried 4 times\)/)
  })

  test("a 404 is an answer, not a fault: not tried again", async () => {
    await push.image("org/absent-once", "a", { tag: "sha-2222222" })
    const before = front.log.length
    expect(await quick().resolve("org/absent-once", "v1.0.0")).toBeUndefined()
    expect(front.log.slice(before).filter((r) => r.path.endsWith("/manifests/v1.0.0"))).toHaveLength(2) // the 401, then the answer
  })
})
