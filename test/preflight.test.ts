/**
 * The deploy preflight against a real CNCF distribution registry, directly (plain http, as
 * helmDeploy speaks to 127.0.0.1) and behind a front that demands ghcr.io's token exchange:
 * missing tags, moved tags, missing platforms and missing children are refused, and refused
 * credentials get their own message.
 */
import { type Secret } from "@dagger.io/dagger"
import { afterAll, beforeAll, describe, expect, test } from "vitest"

import { parseReaderCredentials } from "../src/delivery/inputs.js"
import { githubOutputLines, imageTarget, preflightImage } from "../src/delivery/preflight.js"
import { type Platform } from "../src/oci/platform.js"
import { endpointOf } from "../src/oci/reference.js"
import { OciPusher } from "./support/oci.js"
import { freePort, startRegistry, type RunningRegistry } from "./support/registry.js"
import { startTokenRegistry, type TokenRegistry } from "./support/token-registry.js"

let registry: RunningRegistry
let privateFront: TokenRegistry
let publicFront: TokenRegistry
let push: OciPusher
const reader = { username: "reader-bot", password: "ghp_r3ader:token" }
const AMD64: Platform = { os: "linux", architecture: "amd64" }
/** parseReaderCredentials only checks that a token was given; it never reads it. */
const TOKEN = {} as Secret

beforeAll(async () => {
  registry = await startRegistry()
  privateFront = await startTokenRegistry(registry.url, reader)
  publicFront = await startTokenRegistry(registry.url, { ...reader, anonymousPull: true })
  push = new OciPusher(registry.url)
})
afterAll(async () => {
  await privateFront?.stop()
  await publicFront?.stop()
  await registry?.stop()
})

const target = (
  repository: string,
  version: string,
  options: { digest?: string; platform?: Platform; host?: string } = {},
) => ({
  target: imageTarget(`${options.host ?? registry.host}/${repository}`, version, options.platform ?? AMD64),
  digest: options.digest,
})
const check = (t: ReturnType<typeof target>, credentials?: { username: string; password: string }) =>
  preflightImage(t.target, t.digest, credentials)

describe("what passes", () => {
  test("a single linux/amd64 image: its digest and the IMAGE_URI", async () => {
    const image = await push.image("meetinity/single", "one", { tag: "v1.4.2" })
    const resolved = await check(target("meetinity/single", "v1.4.2"))
    expect(resolved).toEqual({
      repository: `${registry.host}/meetinity/single`,
      version: "v1.4.2",
      digest: image.digest,
      platformDigest: image.digest,
      uri: `${registry.host}/meetinity/single:v1.4.2@${image.digest}`,
    })
    expect(githubOutputLines(resolved)).toBe(
      `version=v1.4.2\ndigest=${image.digest}\nimage_uri=${registry.host}/meetinity/single:v1.4.2@${image.digest}`,
    )
  })

  test("a multi-platform index, with the digest given: the amd64 child is the one nodes pull", async () => {
    const { index, children } = await push.multiArch("meetinity/multi", "multi", ["linux/arm64", "linux/amd64"], {
      tag: "v1.4.2",
      attestations: true,
    })
    const resolved = await check(target("meetinity/multi", "v1.4.2", { digest: index.digest }))
    expect(resolved.digest).toBe(index.digest)
    expect(resolved.platformDigest).toBe(children[1]!.digest)
  })

  test("another platform can be asked for", async () => {
    const { children } = await push.multiArch("meetinity/arm", "arm", ["linux/arm64"], { tag: "v2.0.0" })
    expect(
      (await check(target("meetinity/arm", "v2.0.0", { platform: { os: "linux", architecture: "arm64" } })))
        .platformDigest,
    ).toBe(children[0]!.digest)
  })
})

describe("what is refused, in seconds, before anything is deployed", () => {
  test.each([
    [
      "a version that was never published",
      async () => {
        await push.image("meetinity/refused", "r", { tag: "v1.4.2" })
        return target("meetinity/refused", "v1.4.3")
      },
      /image 127\.0\.0\.1:\d+\/meetinity\/refused:v1\.4\.3 does not exist: the registry has no tag v1\.4\.3.*Publish it first, or check --version and --image/,
    ],
    [
      "a repository that does not exist",
      async () => target("meetinity/typo-gateway", "v1.4.2"),
      /meetinity\/typo-gateway:v1\.4\.2 does not exist/,
    ],
    [
      "a tag that names another digest than --digest",
      async () => {
        await push.image("meetinity/moved", "m", { tag: "v1.4.2" })
        return target("meetinity/moved", "v1.4.2", { digest: `sha256:${"0".repeat(64)}` })
      },
      /meetinity\/moved:v1\.4\.2 is sha256:[0-9a-f]{64} in the registry, not sha256:0{64} as --digest says/,
    ],
    [
      "a single arm64 image",
      async () => {
        await push.image("meetinity/arm-only", "a", { tag: "v1.4.2", platform: "linux/arm64" })
        return target("meetinity/arm-only", "v1.4.2")
      },
      /meetinity\/arm-only:v1\.4\.2 \(sha256:[0-9a-f]{64}\) is a single linux\/arm64 image, not linux\/amd64/,
    ],
    [
      "an index without amd64 (attestations do not count)",
      async () => {
        await push.multiArch("meetinity/no-amd64", "n", ["linux/arm64", "linux/arm/v7"], {
          tag: "v1.4.2",
          attestations: true,
        })
        return target("meetinity/no-amd64", "v1.4.2")
      },
      /has no linux\/amd64 manifest; it lists linux\/arm64, linux\/arm\/v7/,
    ],
    [
      "an index whose amd64 child was deleted behind its back",
      async () => {
        const { children } = await push.multiArch("meetinity/orphaned", "o", ["linux/amd64", "linux/arm64"], {
          tag: "v1.4.2",
        })
        const gone = await fetch(`${registry.url}/v2/meetinity/orphaned/manifests/${children[0]!.digest}`, {
          method: "DELETE",
        })
        expect(gone.status).toBe(202)
        return target("meetinity/orphaned", "v1.4.2")
      },
      /lists linux\/amd64 as sha256:[0-9a-f]{64}, but the registry does not have that manifest/,
    ],
  ])("%s", async (_name, arrange, message) => {
    const t = await arrange()
    const started = Date.now()
    await expect(check(t)).rejects.toThrow(message)
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  test("a registry nobody listens on: says where it looked", async () => {
    const host = `127.0.0.1:${await freePort()}`
    await expect(check(target("meetinity/x", "v1.0.0", { host }))).rejects.toThrow(
      new RegExp(`could not check ${host}/meetinity/x:v1\\.0\\.0 in the registry \\(http://${host}\\)`),
    )
  })
})

describe("credentials, as ghcr.io asks for them", () => {
  test("a private package read with the reader credentials", async () => {
    const image = await push.image("meetinity/private", "p", { tag: "v1.0.0" })
    expect((await check(target("meetinity/private", "v1.0.0", { host: privateFront.host }), reader)).digest).toBe(
      image.digest,
    )
    expect(privateFront.log.some((r) => r.auth === "Bearer")).toBe(true)
  })

  test("a public package read anonymously", async () => {
    const image = await push.image("meetinity/public", "p", { tag: "v1.0.0" })
    expect((await check(target("meetinity/public", "v1.0.0", { host: publicFront.host }))).digest).toBe(image.digest)
  })

  test("a private package without credentials: asks for them by flag", async () => {
    await push.image("meetinity/private2", "p", { tag: "v1.0.0" })
    await expect(check(target("meetinity/private2", "v1.0.0", { host: privateFront.host }))).rejects.toThrow(
      /the registry wants credentials to read 127\.0\.0\.1:\d+\/meetinity\/private2 \(a private package\?\): pass --reader-username and --reader-token/,
    )
  })

  test("a wrong token: the reader credentials are refused, and the token is never in the message", async () => {
    await push.image("meetinity/private3", "p", { tag: "v1.0.0" })
    const attempt = check(target("meetinity/private3", "v1.0.0", { host: privateFront.host }), {
      username: "reader-bot",
      password: "ghp_wrong-token",
    })
    await expect(attempt).rejects.toThrow(
      /the registry refused the reader credentials \(user "reader-bot"\) for 127\.0\.0\.1:\d+\/meetinity\/private3: check that the token is valid, has read:packages/,
    )
    await expect(attempt).rejects.not.toThrow(/ghp_wrong-token/)
  })
})

describe("how the registry is reached", () => {
  test.each([
    ["ghcr.io", "https"],
    ["registry.example.com:5000", "https"],
    ["localhost", "http"],
    ["localhost:5000", "http"],
    ["127.0.0.1:5000", "http"],
    ["127.0.0.1", "http"],
    ["127.0.0.10:5000", "https"],
    ["localhost.example.com", "https"],
  ])("%s over %s", (host, scheme) => {
    expect(endpointOf(host)).toEqual({ scheme, host })
  })

  test.each([
    [
      "an http:// image off localhost",
      "10.89.0.1:5000/meetinity/api-gateway",
      "http",
      { scheme: "http", host: "10.89.0.1:5000" },
    ],
    [
      "https:// on localhost",
      "localhost:5000/meetinity/api-gateway",
      "https",
      { scheme: "https", host: "localhost:5000" },
    ],
    [
      "no scheme given: the localhost rule",
      "localhost:5000/meetinity/api-gateway",
      undefined,
      { scheme: "http", host: "localhost:5000" },
    ],
  ] as const)("a scheme given with the image wins over the localhost rule: %s", (_name, image, scheme, endpoint) => {
    expect(imageTarget(image, "v1.0.0", AMD64, { scheme }).endpoint).toEqual(endpoint)
  })

  test.each([
    ["neither: anonymous", "", false, undefined],
    ["both", "reader-bot", true, "reader-bot"],
  ])("reader credentials, %s", (_name, username, hasToken, expected) => {
    expect(parseReaderCredentials(username, hasToken ? TOKEN : undefined)?.username).toBe(expected)
  })

  test.each([
    [
      "a user name without a token",
      "reader-bot",
      false,
      /readerToken null is missing: --reader-username "reader-bot" was given without a token/,
    ],
    ["a token without a user name", "", true, /readerUsername "" is not a user name/],
    ["a user name with a space", "reader bot", true, /readerUsername "reader bot" is not a user name/],
  ])("reader credentials, %s: refused", (_name, username, hasToken, message) => {
    expect(() => parseReaderCredentials(username, hasToken ? TOKEN : undefined)).toThrow(message)
  })
})
