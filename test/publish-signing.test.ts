/**
 * Signing at publish and the gate before a deploy, through the module's front door (issue 23):
 * `publish --signing-key` attaches a signature, SLSA provenance and syft's SBOM to the digest it
 * published in a real registry, which real cosign v3 verifies; `imageUri` and `helmDeploy
 * --verify key` accept it, and refuse an unsigned image or another key's before any kubectl or
 * Helm command. The engine's own work is stood in by real programs (support/publish-engine.ts).
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { createServer } from "node:http"
import { type AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { resolve } from "node:path"

import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest"
import { dag, type DirectoryID, type FileID, type SecretID } from "@dagger.io/dagger"

import { MeetinityRelease } from "../src/index.js"
import { PREDICATE, fallbackTag } from "../src/signing/constants.js"
import { buildBusyboxImage, type BuiltImage } from "./support/busybox-image.js"
import {
  setUpCosign,
  SLSA_PROVENANCE_V1,
  SPDX_DOCUMENT_V2_3,
  tree,
  verify,
  verifyAttestation,
  type Cosign,
} from "./support/cosign.js"
import { recordDagger, type Recorder, argValue } from "./support/dagger.js"
import { startFulcio, trustedRoot, type RunningFulcio } from "./support/fulcio.js"
import { OciPusher } from "./support/oci.js"
import { TOKEN_KUBECONFIG } from "./support/kubeconfig.js"
import { GITHUB_CLAIMS, testIssuer, type TestIssuer } from "./support/oidc.js"
import { startRekor, type RunningRekor } from "./support/rekor.js"
import { publishEngine } from "./support/publish-engine.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { skopeoDigest, skopeoTags } from "./support/skopeo.js"

const SHA = "0123456789abcdef0123456789abcdef01234567"
/** Another commit: its own build tag, so a test can publish its own image. */
const OTHER_SHA = "fedcba9876543210fedcba9876543210fedcba98"

let registry: RunningRegistry
let image: BuiltImage
let cosign: Cosign
let other: Cosign
let recorder: Recorder | undefined
let engine: ReturnType<typeof publishEngine>
let issuer: TestIssuer
let fulcio: RunningFulcio
let rekor: RunningRekor
let root: string

const GITHUB = "https://token.actions.githubusercontent.com"
const WORKFLOW = "meetinity/api-gateway/.github/workflows/cd.yml@refs/tags/release/v3.0.0"

beforeAll(async () => {
  issuer = testIssuer(GITHUB)
  ;[registry, cosign, other, fulcio, rekor] = await Promise.all([
    startRegistry(),
    setUpCosign(),
    setUpCosign(),
    startFulcio([issuer]),
    startRekor(),
  ])
  root = trustedRoot(fulcio, rekor)
  image = buildBusyboxImage(mkdtempSync(`${tmpdir()}/busybox-`))
}, 120_000)
afterAll(async () => {
  await Promise.all([registry?.stop(), fulcio?.stop(), rekor?.stop()])
})
afterEach(() => recorder?.restore())

const secrets: Record<string, () => string> = {
  "SecretID-push": () => "registry-password-not-real",
  "SecretID-key": () => readFileSync(cosign.pkcs8, "utf8"),
  "SecretID-cosign-key": () => readFileSync(cosign.cosignKey, "utf8"),
  "SecretID-token": () => "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
  "SecretID-kubeconfig": () => TOKEN_KUBECONFIG,
  "SecretID-oidc": () =>
    issuer.token({
      ...GITHUB_CLAIMS,
      job_workflow_ref: WORKFLOW,
      workflow_ref: WORKFLOW,
      ref: "refs/tags/release/v3.0.0",
    }),
}
const files: Record<string, () => string> = {
  "FileID-root": () => root,
  "FileID-pub": () => readFileSync(cosign.publicKey, "utf8"),
  "FileID-other-pub": () => readFileSync(other.publicKey, "utf8"),
}

async function record(built = image) {
  engine = publishEngine({
    image: built,
    sources: { "DirectoryID-source": resolve("examples/api-gateway") },
    registryHost: registry.host,
  })
  recorder = await recordDagger(async (query) => {
    const first = query.chain[0]!
    if (query.leaf === "plaintext") return secrets[argValue(first.args, "id") as string]?.()
    if (query.leaf === "contents" && first.field === "loadFileFromID")
      return files[argValue(first.args, "id") as string]?.()
    if (query.leaf === "exists") return false
    return engine.answer(query)
  })
  return recorder
}

const secret = (id: string) => dag.loadSecretFromID(id as SecretID)
const file = (id: string) => dag.loadFileFromID(id as FileID)
const source = () => dag.loadDirectoryFromID("DirectoryID-source" as DirectoryID)

const publish = (version: string, signing: { key?: string; token?: string } = {}, sha = SHA) =>
  new MeetinityRelease().publish(
    source(),
    `release/${version}`,
    sha,
    "Meetinity",
    "writer",
    secret("SecretID-push"),
    "api-gateway",
    registry.url,
    "Dockerfile",
    ["linux/amd64"],
    [],
    "https://github.com/meetinity/api-gateway",
    signing.key ? secret(signing.key) : undefined,
    signing.token ? secret(signing.token) : undefined,
  )

const imageUri = (version: string, key: string) =>
  new MeetinityRelease().imageUri(
    `${registry.host}/meetinity/api-gateway`,
    version,
    "",
    "",
    undefined,
    "linux/amd64",
    false,
    "key",
    file(key),
    "",
    "",
    ["signature", "provenance", "sbom"],
  )

describe("publish --signing-key", () => {
  test("attaches a signature, provenance and syft's SBOM to the digest; cosign v3 verifies each; a re-run adds nothing", async () => {
    await record()
    const [versionRef, buildRef] = await publish("v2.0.0", { key: "SecretID-key" })
    const digest = versionRef.slice(versionRef.indexOf("@") + 1)
    expect(buildRef).toBe(`${registry.host}/meetinity/api-gateway:sha-0123456@${digest}`)
    expect(engine.log.syftRuns).toBe(1)
    // distribution 2.8 has no referrers API: the fallback index names the three referrers.
    expect(skopeoTags(registry.host, "meetinity/api-gateway")).toContain(fallbackTag(digest))

    const ref = `${registry.host}/meetinity/api-gateway@${digest}`
    const verified = await verify(cosign, ref)
    expect(verified.status, verified.stderr).toBe(0)
    expect((await verify(other, ref)).status).not.toBe(0)
    const provenance = await verifyAttestation(cosign, ref, "slsaprovenance1")
    expect(provenance.status, provenance.stderr).toBe(0)
    const statement = provenance.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map(
        (l) =>
          JSON.parse(Buffer.from((JSON.parse(l) as { payload: string }).payload, "base64").toString()) as {
            predicateType: string
            predicate: { buildDefinition: { externalParameters: object; resolvedDependencies: object[] } }
          },
      )
      .find((s) => s.predicateType === PREDICATE.provenance)!
    expect(statement.predicate.buildDefinition.externalParameters).toMatchObject({
      repository: "https://github.com/meetinity/api-gateway",
      ref: "refs/tags/release/v2.0.0",
      commit: SHA,
      dockerfile: "Dockerfile",
      platforms: ["linux/amd64"],
    })
    // The source commit, and the Dockerfile's base image by the digest it resolved to.
    expect(statement.predicate.buildDefinition.resolvedDependencies).toEqual([
      { uri: "git+https://github.com/meetinity/api-gateway@refs/tags/release/v2.0.0", digest: { gitCommit: SHA } },
      { uri: "pkg:docker/busybox@1.35.0", digest: { sha256: image.digest.slice("sha256:".length) } },
    ])
    const sbom = await verifyAttestation(cosign, ref, PREDICATE.sbom)
    expect(sbom.status, sbom.stderr).toBe(0)
    const document = sbom.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map(
        (l) =>
          JSON.parse(Buffer.from((JSON.parse(l) as { payload: string }).payload, "base64").toString()) as {
            predicate: { spdxVersion: string; name: string; packages: { name: string; versionInfo?: string }[] }
          },
      )[0]!.predicate
    // syft's SPDX 2.3 document of the image, named after the repository: its Debian package at its dpkg version.
    expect(document.spdxVersion).toBe("SPDX-2.3")
    expect(document.name).toBe(`${registry.host}/meetinity/api-gateway`)
    expect(document.packages).toContainEqual(
      expect.objectContaining({ name: "busybox-static", versionInfo: image.packageVersion }),
    )

    // Again: the image is there and signed; nothing is built, pushed, scanned or signed.
    const pushes = engine.log.pushes.length
    recorder!.restore()
    await record()
    expect(await publish("v2.0.0", { key: "SecretID-key" })).toEqual([versionRef, buildRef])
    expect(engine.log.pushes.length).toBe(0)
    expect(pushes).toBe(1)
    expect(engine.log.syftRuns).toBe(0)
  })

  test("a syft image not pinned by digest: refused before anything is read", async () => {
    const rec = await record()
    const attempt = new MeetinityRelease().publish(
      source(),
      "release/v2.0.2",
      SHA,
      "Meetinity",
      "writer",
      secret("SecretID-push"),
      "api-gateway",
      registry.url,
      "Dockerfile",
      ["linux/amd64"],
      [],
      "",
      secret("SecretID-key"),
      undefined,
      "https://fulcio.sigstore.dev",
      "https://rekor.sigstore.dev",
      "",
      undefined,
      "",
      undefined,
      "docker.io/anchore/syft:latest",
    )
    await expect(attempt).rejects.toThrow(
      /^syftImage "docker.io\/anchore\/syft:latest" is not an image pinned by digest: expected <registry>\/<path>\[:tag\]@sha256:<64 hex>/,
    )
    expect(rec.queries.filter((q) => q.leaf !== "id")).toEqual([])
  })

  test("signing a version published earlier whose rebuild is other bytes: signature and provenance attached, the SBOM of the other image never signed, and said so", async () => {
    // Published unsigned from one build; signed later by an engine whose rebuild differs (no cache, not reproducible).
    // Its own image: nothing another test attached to the shared one counts here.
    await record(buildBusyboxImage(mkdtempSync(`${tmpdir()}/busybox-published-`), "the published build"))
    await publish("v2.0.4", {}, OTHER_SHA)
    const pushed = skopeoDigest(registry.host, "meetinity/api-gateway", "v2.0.4")!
    const rebuilt = buildBusyboxImage(mkdtempSync(`${tmpdir()}/busybox-other-`), "another build")
    expect(rebuilt.digest).not.toBe(pushed)
    recorder!.restore()
    await record(rebuilt)
    const lines: string[] = []
    const said = vi.spyOn(console, "error").mockImplementation((line: string) => void lines.push(line))
    try {
      await publish("v2.0.4", { key: "SecretID-key" }, OTHER_SHA)
    } finally {
      said.mockRestore()
    }
    expect(engine.log.pushes).toEqual([])
    expect(engine.log.syftRuns).toBe(1)
    expect(lines.join("\n")).toMatch(
      new RegExp(
        `publish: sbom not attached: the image rebuilt for it \\(${rebuilt.digest}\\) is not the linux/amd64 image pushed \\(${pushed}\\)`,
      ),
    )
    const attached = await tree(cosign, `${registry.host}/meetinity/api-gateway@${pushed}`)
    expect(attached.stdout).toContain(SLSA_PROVENANCE_V1)
    expect(attached.stdout).not.toContain(SPDX_DOCUMENT_V2_3)
  })

  test("a key it cannot sign with (cosign's encrypted cosign.key): refused before anything is built or pushed, the key not shown", async () => {
    const rec = await record()
    const attempt = publish("v2.0.2", { key: "SecretID-cosign-key" })
    await expect(attempt).rejects.toThrow(
      /^signingKey "<a PEM \\"ENCRYPTED SIGSTORE PRIVATE KEY\\" block of \d+ characters>" is an encrypted private key/,
    )
    // Only the key itself was read: no registry read, no build, no push, no tag.
    expect(rec.queries.filter((q) => q.leaf !== "id").map((q) => q.leaf)).toEqual(["plaintext"])
    expect(engine.log.pushes).toEqual([])
    const body = readFileSync(cosign.cosignKey, "utf8").split("\n")[1]!
    expect(((await attempt.catch((e: unknown) => e)) as Error).message).not.toContain(body)
  })

  test("a key and a token together: refused before anything is read", async () => {
    const rec = await record()
    await expect(publish("v2.0.1", { key: "SecretID-key", token: "SecretID-token" })).rejects.toThrow(
      /^oidcToken "<a token>" was given with --signing-key: expected one way to sign/,
    )
    expect(rec.queries.filter((q) => q.leaf !== "id")).toEqual([])
  })
})

describe("the gate: imageUri and helmDeploy --verify key", () => {
  test("accept the signed image with the signer's public key; refuse another key's, an unsigned image, and a signed image under another version", async () => {
    await record()
    await publish("v2.1.0", { key: "SecretID-key" })
    // The same build published again as v2.1.1 without signing: the digest carries v2.1.0's provenance.
    await publish("v2.1.1")
    recorder!.restore()
    // An image nobody signed, pushed by hand.
    await new OciPusher(registry.url).image("meetinity/api-gateway", "unsigned", { tag: "v2.1.2" })

    await record()
    expect(await imageUri("v2.1.0", "FileID-pub")).toMatch(/:v2\.1\.0@sha256:[0-9a-f]{64}$/)
    await expect(imageUri("v2.1.0", "FileID-other-pub")).rejects.toThrow(
      /^refusing to deploy \S+:v2\.1\.0@sha256:[0-9a-f]{64}: missing signature \(https:\/\/sigstore\.dev\/cosign\/sign\/v1\): 1 bundle\(s\) of that type, none accepted \(by key \S+: signed by another key/,
    )
    await expect(imageUri("v2.1.1", "FileID-pub")).rejects.toThrow(
      /^refusing to deploy \S+:v2\.1\.1@sha256:[0-9a-f]{64}: its provenance is not the version being deployed: it names [^\n]*refs\/tags\/release\/v2\.1\.0 at 0123456[^\n]*; wanted refs\/tags\/release\/v2\.1\.1\n/,
    )
    await expect(imageUri("v2.1.2", "FileID-pub")).rejects.toThrow(
      /^refusing to deploy \S+:v2\.1\.2@sha256:[0-9a-f]{64}: it is not signed: no Sigstore bundle is attached/,
    )
  })

  test("helmDeploy refuses an unsigned image before any kubectl or Helm command: nothing was deployed", async () => {
    await new OciPusher(registry.url).image("meetinity/api-gateway", "unsigned for helm", { tag: "v2.2.0" })
    const rec = await record()
    const attempt = new MeetinityRelease().helmDeploy(
      dag.loadDirectoryFromID("DirectoryID-chart" as DirectoryID),
      secret("SecretID-kubeconfig"),
      "meetinity-dev",
      "v2.2.0",
      `${registry.host}/meetinity/api-gateway`,
      "meetinity",
      "ghcr-pull-secret",
      "5m",
      [],
      10,
      "",
      "",
      undefined,
      [],
      "linux/amd64",
      false,
      "api-gateway.image",
      false,
      "",
      undefined,
      "key",
      file("FileID-pub"),
    )
    await expect(attempt).rejects.toThrow(
      /^refusing to deploy \S+:v2\.2\.0@sha256:[0-9a-f]{64}: it is not signed: no Sigstore bundle is attached[\s\S]*Nothing was deployed to meetinity-dev\.$/,
    )
    expect(rec.calls("withExec")).toEqual([])
  })

  test.each([
    ["key without --verify-key", "key", undefined, /verifyKey "" is empty: key verification needs the PEM public key/],
    ["an unknown mode", "sometimes", undefined, /verify "sometimes" is not a verification mode: expected off, key/],
  ])("%s: refused before any request", async (_name, mode, key, message) => {
    const rec = await record()
    await expect(
      new MeetinityRelease().imageUri(
        `${registry.host}/meetinity/api-gateway`,
        "v2.1.0",
        "",
        "",
        undefined,
        "linux/amd64",
        false,
        mode,
        key,
      ),
    ).rejects.toThrow(message)
    expect(rec.queries.filter((q) => q.leaf !== "id")).toEqual([])
  })
})

describe("keyless, as in GitHub Actions: publish --oidc-token, then the gate by the workflow's identity", () => {
  test("Fulcio certifies the job's token, Rekor logs each bundle; the gate accepts the release workflow's identity only", async () => {
    await record()
    const [versionRef] = await new MeetinityRelease().publish(
      source(),
      "release/v3.0.0",
      SHA,
      "Meetinity",
      "writer",
      secret("SecretID-push"),
      "keyless-api",
      registry.url,
      "Dockerfile",
      ["linux/amd64"],
      [],
      "",
      undefined,
      secret("SecretID-oidc"),
      fulcio.url,
      rekor.url,
      "",
      file("FileID-root"),
    )
    expect(versionRef).toMatch(/:v3\.0\.0@sha256:[0-9a-f]{64}$/)
    recorder!.restore()

    await record()
    const gate = (identity: string) =>
      new MeetinityRelease().imageUri(
        `${registry.host}/meetinity/keyless-api`,
        "v3.0.0",
        "",
        "",
        undefined,
        "linux/amd64",
        false,
        "keyless",
        undefined,
        GITHUB,
        identity,
        ["signature", "provenance", "sbom"],
        file("FileID-root"),
      )
    expect(
      await gate("https://github\\.com/meetinity/api-gateway/\\.github/workflows/cd\\.yml@refs/tags/release/v.*"),
    ).toBe(versionRef)
    // Another workflow of the same repository (a branch build, say) is not the release workflow.
    await expect(
      gate("https://github\\.com/meetinity/api-gateway/\\.github/workflows/deploy\\.yml@refs/heads/main"),
    ).rejects.toThrow(/^refusing to deploy \S+:v3\.0\.0@sha256:[0-9a-f]{64}: missing signature/)
    expect(rekor.entries).toBeGreaterThanOrEqual(3)
  })

  test("in GitHub Actions the token is requested when signing, from the job's token endpoint, for audience sigstore", async () => {
    // GitHub's token endpoint, as the runner exposes it: ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN.
    const asked: string[] = []
    const endpoint = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1")
      asked.push(`${url.searchParams.get("audience")} ${req.headers.authorization}`)
      if (req.headers.authorization !== "bearer request-token-not-real") {
        res.writeHead(401).end()
        return
      }
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ value: secrets["SecretID-oidc"]!() }))
    })
    await new Promise<void>((done) => endpoint.listen(0, "127.0.0.1", done))
    const port = (endpoint.address() as AddressInfo).port
    secrets["SecretID-request"] = () => "request-token-not-real"
    try {
      await record()
      const call = (requestToken: string) =>
        new MeetinityRelease().publish(
          source(),
          "release/v3.0.0",
          SHA,
          "Meetinity",
          "writer",
          secret("SecretID-push"),
          "requested-api",
          registry.url,
          "Dockerfile",
          ["linux/amd64"],
          [],
          "",
          undefined,
          undefined,
          fulcio.url,
          rekor.url,
          "",
          file("FileID-root"),
          `http://127.0.0.1:${port}/token?api-version=2.0`,
          secret(requestToken),
        )
      const [versionRef] = await call("SecretID-request")
      expect(versionRef).toMatch(/\/meetinity\/requested-api:v3\.0\.0@sha256:[0-9a-f]{64}$/)
      expect(asked).toEqual(["sigstore bearer request-token-not-real"])
    } finally {
      endpoint.close()
    }
  })
})
