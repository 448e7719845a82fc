/**
 * The signing test tools, for real and offline: a one-layer busybox image made here, pushed with
 * skopeo to Debian's docker-registry (distribution 2.8, no referrers API) and to zot (referrers
 * API); cosign v3 signs it with a key made here and verifies it, attests SLSA provenance v1 and
 * an SPDX 2.3 SBOM made by syft from the image's oci-archive, and lists them with `cosign tree`.
 */
import { createHash, createPrivateKey } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, test } from "vitest"
import { buildBusyboxImage, pushImage, rawManifest, type BuiltImage } from "./support/busybox-image.js"
import {
  attest,
  COSIGN_SIGN_PREDICATE,
  setUpCosign,
  SIGSTORE_BUNDLE_V03,
  SLSA_PROVENANCE_V1,
  sign,
  signLegacy,
  SPDX_DOCUMENT_V2_3,
  tree,
  verify,
  verifyAttestation,
  type Cosign,
} from "./support/cosign.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { dsseBundle, pushBundleReferrer, statement } from "./support/sigstore-bundle.js"
import { skopeoTags } from "./support/skopeo.js"
import { spdxOfArchive, type SpdxDocument } from "./support/syft.js"
import { startZot } from "./support/zot.js"

const EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
const OCI_INDEX = "application/vnd.oci.image.index.v1+json"

let work: string
let image: BuiltImage
let cosign: Cosign
let other: Cosign
let registry: RunningRegistry
let zot: RunningRegistry
let sbom: SpdxDocument

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "sign-tools-"))
  image = buildBusyboxImage(work)
  ;[cosign, other, registry, zot] = await Promise.all([setUpCosign(), setUpCosign(), startRegistry(), startZot()])
}, 120_000)

afterAll(async () => {
  await Promise.all([registry?.stop(), zot?.stop()])
  rmSync(work, { recursive: true, force: true })
})

interface Manifest {
  mediaType: string
  artifactType?: string
  config: { mediaType: string; digest: string; size: number }
  layers: { mediaType: string; digest: string; size: number }[]
  subject?: { mediaType: string; digest: string; size: number }
  annotations?: Record<string, string>
}
interface Index {
  mediaType: string
  manifests: { mediaType: string; digest: string; size: number; artifactType?: string; annotations?: object }[]
}
interface Envelope {
  payloadType: string
  payload: string
}
interface Statement {
  _type: string
  predicateType: string
  subject: { name?: string; digest: Record<string, string> }[]
  predicate: Record<string, unknown>
}

/** What `cosign verify` prints on stdout: one JSON array, a simple-signing object per verified bundle. */
interface Verified {
  critical: { identity: { "docker-reference": string }; image: { "docker-manifest-digest": string }; type: string }
  optional: Record<string, unknown> | null
}
function verifiedSignatures(stdout: string): Verified[] {
  const line = stdout.split("\n").find((l) => l.startsWith("["))
  if (!line) throw new Error(`cosign verify printed no JSON array: ${stdout}`)
  return JSON.parse(line) as Verified[]
}

/** The in-toto statements of `verify-attestation` stdout (one DSSE envelope a line). */
function statements(stdout: string): Statement[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(Buffer.from((JSON.parse(line) as Envelope).payload, "base64").toString()) as Statement)
}

const hex = () => image.digest.slice("sha256:".length)
const fallbackTag = () => `sha256-${hex()}`

/** SLSA provenance v1 predicate of a made-up build of the image. */
const provenance = {
  buildDefinition: {
    buildType: "https://meetinity.example/release/dagger-publish@v1",
    externalParameters: { repository: "meetinity/api", ref: "refs/tags/v1.2.3" },
    resolvedDependencies: [{ uri: "git+https://example.invalid/meetinity/api@refs/tags/v1.2.3" }],
  },
  runDetails: {
    builder: { id: "https://meetinity.example/release/builder@v1" },
    metadata: { invocationId: "run-42", startedOn: "2025-01-01T00:00:00Z", finishedOn: "2025-01-01T00:01:00Z" },
  },
}

describe("syft", () => {
  test("an SPDX 2.3 SBOM of the image's oci-archive lists the Debian package and the busybox binary", async () => {
    sbom = await spdxOfArchive(image.archive, "meetinity/api")
    expect(sbom.spdxVersion).toBe("SPDX-2.3")
    expect(sbom.creationInfo.creators).toContain("Tool: syft-v1.57.1")
    // The document's root package is the image itself, by manifest digest.
    expect(sbom.packages).toContainEqual(expect.objectContaining({ name: "meetinity/api", versionInfo: image.digest }))

    const deb = sbom.packages.find((p) => p.name === "busybox-static")
    expect(deb?.versionInfo).toBe(image.packageVersion)
    const purls = deb?.externalRefs?.filter((r) => r.referenceType === "purl").map((r) => r.referenceLocator)
    expect(purls).toEqual([
      expect.stringMatching(new RegExp(`^pkg:deb/debian/busybox-static@.*arch=amd64&distro=${image.distro}`)),
    ])
    // The binary cataloger recognises busybox by its version string (the package's upstream version).
    const upstream = /^(?:\d+:)?(\d+\.\d+\.\d+)/.exec(image.packageVersion)?.[1]
    expect(sbom.packages).toContainEqual(expect.objectContaining({ name: "busybox", versionInfo: upstream }))

    const busybox = sbom.files?.find((f) => f.fileName === "bin/busybox")
    expect(busybox?.checksums).toContainEqual({
      algorithm: "SHA256",
      checksumValue: createHash("sha256").update(readFileSync("/bin/busybox")).digest("hex"),
    })
  })
})

describe("cosign v3 against distribution 2.8 (no referrers API: the sha256-<hex> fallback tag)", () => {
  const repository = "meetinity/api"
  const ref = () => `${registry.host}/${repository}@${image.digest}`

  beforeAll(() => {
    expect(pushImage(image, registry.host, repository, "v1.2.3")).toBe(image.digest)
  })

  test("an unsigned image does not verify", async () => {
    const result = await verify(cosign, ref())
    expect(result.status).not.toBe(0)
    expect(result.stderr).toMatch(/no signatures found|no matching signatures/i)
  })

  test("sign --key writes one Sigstore bundle referrer and the fallback index, no .sig tag", async () => {
    const signed = await sign(cosign, ref())
    expect(signed.status, signed.stderr).toBe(0)

    expect(skopeoTags(registry.host, repository)).toEqual([fallbackTag(), "v1.2.3"])
    const referrersApi = await fetch(`${registry.url}/v2/${repository}/referrers/${image.digest}`)
    expect(referrersApi.status).toBe(404)

    const index = JSON.parse(rawManifest(registry.host, repository, fallbackTag())) as Index
    expect(index.mediaType).toBe(OCI_INDEX)
    expect(index.manifests).toHaveLength(1)
    // go-containerregistry's fallback index: mediaType, digest, size, artifactType; no annotations.
    expect(Object.keys(index.manifests[0]).sort()).toEqual(["artifactType", "digest", "mediaType", "size"])
    expect(index.manifests[0].artifactType).toBe(SIGSTORE_BUNDLE_V03)

    const manifest = JSON.parse(rawManifest(registry.host, repository, index.manifests[0].digest)) as Manifest
    expect(manifest.artifactType).toBe(SIGSTORE_BUNDLE_V03)
    expect(manifest.config).toMatchObject({ mediaType: EMPTY_CONFIG, size: 2 })
    expect(manifest.layers).toEqual([expect.objectContaining({ mediaType: SIGSTORE_BUNDLE_V03 })])
    expect(manifest.subject).toEqual({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: image.digest,
      size: expect.any(Number),
    })
    expect(manifest.annotations).toMatchObject({
      "dev.sigstore.bundle.content": "dsse-envelope",
      "dev.sigstore.bundle.predicateType": COSIGN_SIGN_PREDICATE,
    })
  })

  test("verify --key accepts the bundle, and only with the signer's key", async () => {
    const verified = await verify(cosign, ref())
    expect(verified.status, verified.stderr).toBe(0)
    expect(verifiedSignatures(verified.stdout)).toEqual([
      {
        critical: {
          // The bundle path names the reference as given (with the digest); the legacy path, the repository only.
          identity: { "docker-reference": ref() },
          image: { "docker-manifest-digest": image.digest },
          type: COSIGN_SIGN_PREDICATE,
        },
        optional: expect.anything(),
      },
    ])

    const wrongKey = await verify(other, ref())
    expect(wrongKey.status).not.toBe(0)
  })

  test("attest --type slsaprovenance1, then verify-attestation --type slsaprovenance1", async () => {
    const before = await verifyAttestation(cosign, ref(), "slsaprovenance1")
    expect(before.status).not.toBe(0)

    const attested = await attest(cosign, ref(), "slsaprovenance1", provenance)
    expect(attested.status, attested.stderr).toBe(0)
    const verified = await verifyAttestation(cosign, ref(), "slsaprovenance1")
    expect(verified.status, verified.stderr).toBe(0)
    const found = statements(verified.stdout).filter((s) => s.predicateType === SLSA_PROVENANCE_V1)
    expect(found).toHaveLength(1)
    expect(found[0].subject[0].digest).toEqual({ sha256: hex() })
    expect(found[0].predicate).toEqual(provenance)

    const wrongKey = await verifyAttestation(other, ref(), "slsaprovenance1")
    expect(wrongKey.status).not.toBe(0)
  })

  test("attest the SPDX 2.3 SBOM by its predicate type URI; cosign's spdxjson alias does not match it", async () => {
    expect(sbom, "the syft test runs first").toBeDefined()
    const attested = await attest(cosign, ref(), SPDX_DOCUMENT_V2_3, sbom)
    expect(attested.status, attested.stderr).toBe(0)

    const verified = await verifyAttestation(cosign, ref(), SPDX_DOCUMENT_V2_3)
    expect(verified.status, verified.stderr).toBe(0)
    const found = statements(verified.stdout).filter((s) => s.predicateType === SPDX_DOCUMENT_V2_3)
    expect(found).toHaveLength(1)
    const packages = (found[0].predicate as unknown as SpdxDocument).packages.map((p) => p.name)
    expect(packages).toContain("busybox-static")

    const alias = await verifyAttestation(cosign, ref(), "spdxjson")
    expect(alias.status).not.toBe(0)
    expect(alias.stderr).toContain("none of the attestations matched the predicate type")
  })

  test("tree lists the three bundles as OCI referrers, by predicate type", async () => {
    const listed = await tree(cosign, ref())
    expect(listed.status, listed.stderr).toBe(0)
    const index = JSON.parse(rawManifest(registry.host, repository, fallbackTag())) as Index
    expect(index.manifests).toHaveLength(3)
    for (const type of [COSIGN_SIGN_PREDICATE, SLSA_PROVENANCE_V1, SPDX_DOCUMENT_V2_3]) {
      expect(listed.stdout).toMatch(new RegExp(`${type.replace(/[./]/g, "\\$&")} artifacts via OCI referrer`))
    }
    for (const m of index.manifests) expect(listed.stdout).toContain(m.digest)
    expect(listed.stdout).not.toContain("Signatures for an image tag")
  })

  test("verify --key also passes on an image that has only an attestation: check the type it prints", async () => {
    const attestOnly = "meetinity/attest-only"
    pushImage(image, registry.host, attestOnly, "v1")
    const attestOnlyRef = `${registry.host}/${attestOnly}@${image.digest}`
    const attested = await attest(cosign, attestOnlyRef, "slsaprovenance1", provenance)
    expect(attested.status, attested.stderr).toBe(0)
    const verified = await verify(cosign, attestOnlyRef)
    expect(verified.status, verified.stderr).toBe(0)
    expect(verifiedSignatures(verified.stdout).map((v) => v.critical.type)).toEqual([SLSA_PROVENANCE_V1])
  })

  test("--new-bundle-format=false writes the legacy .sig tag instead", async () => {
    const legacy = "meetinity/legacy"
    pushImage(image, registry.host, legacy, "v1")
    const legacyRef = `${registry.host}/${legacy}@${image.digest}`
    const signed = await signLegacy(cosign, legacyRef)
    expect(signed.status, signed.stderr).toBe(0)
    expect(skopeoTags(registry.host, legacy)).toEqual([`${fallbackTag()}.sig`, "v1"])
    const verified = await verify(cosign, legacyRef)
    expect(verified.status, verified.stderr).toBe(0)
    // No bundle found, so verify falls back to the legacy tag and its simple-signing payload.
    expect(verifiedSignatures(verified.stdout).map((v) => v.critical.type)).toEqual([
      "cosign container image signature",
    ])
  })
})

describe("a Sigstore bundle written without cosign (node:crypto), in cosign v3's shape", () => {
  const subject = () => ({
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: image.digest,
    size: image.size,
  })
  const key = () => createPrivateKey(readFileSync(cosign.pkcs8))

  test("on distribution 2.8: cosign verify finds it only through the sha256-<hex> fallback index", async () => {
    const repository = "meetinity/handmade"
    pushImage(image, registry.host, repository, "v1")
    const ref = `${registry.host}/${repository}@${image.digest}`
    const signature = dsseBundle(statement(image.digest, COSIGN_SIGN_PREDICATE, {}), key())

    await pushBundleReferrer(registry.url, repository, subject(), signature, COSIGN_SIGN_PREDICATE, {
      fallbackTag: false,
    })
    const unlisted = await verify(cosign, ref)
    expect(unlisted.status).not.toBe(0)
    expect(unlisted.stderr).toContain("no signatures found")

    await pushBundleReferrer(registry.url, repository, subject(), signature, COSIGN_SIGN_PREDICATE, {
      fallbackTag: true,
    })
    const verified = await verify(cosign, ref)
    expect(verified.status, verified.stderr).toBe(0)
    expect(verifiedSignatures(verified.stdout).map((v) => v.critical.type)).toEqual([COSIGN_SIGN_PREDICATE])
    expect((await verify(other, ref)).status).not.toBe(0)

    const attestation = dsseBundle(statement(image.digest, SLSA_PROVENANCE_V1, provenance), key())
    await pushBundleReferrer(registry.url, repository, subject(), attestation, SLSA_PROVENANCE_V1, {
      fallbackTag: true,
    })
    const attested = await verifyAttestation(cosign, ref, "slsaprovenance1")
    expect(attested.status, attested.stderr).toBe(0)
    expect(statements(attested.stdout).map((s) => s.predicate)).toEqual([provenance])
  })

  test("a bundle whose statement names another digest does not verify", async () => {
    const repository = "meetinity/handmade-other"
    pushImage(image, registry.host, repository, "v1")
    const wrong = `sha256:${"0".repeat(64)}`
    const bundle = dsseBundle(statement(wrong, COSIGN_SIGN_PREDICATE, {}), key())
    await pushBundleReferrer(registry.url, repository, subject(), bundle, COSIGN_SIGN_PREDICATE, { fallbackTag: true })
    const result = await verify(cosign, `${registry.host}/${repository}@${image.digest}`)
    expect(result.status).not.toBe(0)
  })

  test("on zot: the referrers API lists it, no fallback index needed", async () => {
    const repository = "meetinity/handmade"
    pushImage(image, zot.host, repository, "v1")
    const bundle = dsseBundle(statement(image.digest, COSIGN_SIGN_PREDICATE, {}), key())
    await pushBundleReferrer(zot.url, repository, subject(), bundle, COSIGN_SIGN_PREDICATE, { fallbackTag: false })
    const verified = await verify(cosign, `${zot.host}/${repository}@${image.digest}`)
    expect(verified.status, verified.stderr).toBe(0)
    expect(skopeoTags(zot.host, repository)).toEqual(["v1"])
  })
})

describe("cosign v3 against zot (OCI referrers API)", () => {
  const repository = "meetinity/api"
  const ref = () => `${zot.host}/${repository}@${image.digest}`

  beforeAll(() => {
    expect(pushImage(image, zot.host, repository, "v1.2.3")).toBe(image.digest)
  })

  test("the referrers API answers an empty OCI index for an unsigned image", async () => {
    const response = await fetch(`${zot.url}/v2/${repository}/referrers/${image.digest}`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe(OCI_INDEX)
    expect(((await response.json()) as Index).manifests).toEqual([])
  })

  test("sign, then verify through the referrers API: no fallback tag is written", async () => {
    const signed = await sign(cosign, ref())
    expect(signed.status, signed.stderr).toBe(0)
    expect(skopeoTags(zot.host, repository)).toEqual(["v1.2.3"])

    const response = await fetch(`${zot.url}/v2/${repository}/referrers/${image.digest}`)
    const index = (await response.json()) as Index
    expect(index.manifests).toHaveLength(1)
    // zot v1.4.3 (image-spec 1.1.0-rc2): the listed artifactType is the referrer's config media type.
    expect(index.manifests[0].artifactType).toBe(EMPTY_CONFIG)
    expect(index.manifests[0].annotations).toMatchObject({
      "dev.sigstore.bundle.predicateType": COSIGN_SIGN_PREDICATE,
    })
    // ... and so is its artifactType filter: the bundle type finds nothing, the empty config type finds it.
    const filtered = async (type: string) => {
      const url = `${zot.url}/v2/${repository}/referrers/${image.digest}?artifactType=${encodeURIComponent(type)}`
      return ((await (await fetch(url)).json()) as Index).manifests.length
    }
    expect(await filtered(SIGSTORE_BUNDLE_V03)).toBe(0)
    expect(await filtered(EMPTY_CONFIG)).toBe(1)
    const manifest = JSON.parse(rawManifest(zot.host, repository, index.manifests[0].digest)) as Manifest
    expect(manifest.artifactType).toBe(SIGSTORE_BUNDLE_V03)
    expect(manifest.subject?.digest).toBe(image.digest)

    const verified = await verify(cosign, ref())
    expect(verified.status, verified.stderr).toBe(0)
    expect(verifiedSignatures(verified.stdout).map((v) => v.critical.image["docker-manifest-digest"])).toEqual([
      image.digest,
    ])
    expect((await verify(other, ref())).status).not.toBe(0)
  })

  test("attest provenance and verify-attestation, tree lists both referrers", async () => {
    const attested = await attest(cosign, ref(), "slsaprovenance1", provenance)
    expect(attested.status, attested.stderr).toBe(0)
    const verified = await verifyAttestation(cosign, ref(), "slsaprovenance1")
    expect(verified.status, verified.stderr).toBe(0)
    expect(statements(verified.stdout).filter((s) => s.predicateType === SLSA_PROVENANCE_V1)).toHaveLength(1)

    const listed = await tree(cosign, ref())
    expect(listed.status, listed.stderr).toBe(0)
    expect(listed.stdout).toContain(`${COSIGN_SIGN_PREDICATE} artifacts via OCI referrer`)
    expect(listed.stdout).toContain(`${SLSA_PROVENANCE_V1} artifacts via OCI referrer`)
    expect(skopeoTags(zot.host, repository)).toEqual(["v1.2.3"])
  })
})
