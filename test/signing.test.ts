/**
 * Publish's signing, for real and offline: the module signs a busybox image with a key (its own
 * TypeScript, sigstore-js) and attaches a signature, SLSA provenance v1 and syft's SPDX SBOM to
 * it, on Debian's docker-registry (distribution 2.8: the sha256-<hex> fallback index) and on zot
 * (the referrers API); cosign v3 then verifies what was attached, `cosign tree` lists the three,
 * a re-run adds nothing, and the module's gate accepts it.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, test } from "vitest"
import { ANNOTATION, BUNDLE_MEDIA_TYPE, EMPTY_CONFIG, fallbackTag, PREDICATE } from "../src/signing/constants.js"
import { buildBusyboxImage, rawManifest, type BuiltImage } from "./support/busybox-image.js"
import { setUpCosign, tree, verify, verifyAttestation, type Cosign } from "./support/cosign.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { COMMIT, gate, keyPolicy, keySignerOf, publishSigned, RELEASE, VERSION } from "./support/signed-image.js"
import { skopeoTags } from "./support/skopeo.js"
import { spdxOfArchive, type SpdxDocument } from "./support/syft.js"
import { startZot } from "./support/zot.js"

let work: string
let image: BuiltImage
let cosign: Cosign
let other: Cosign
let registry: RunningRegistry
let zot: RunningRegistry
let sbom: SpdxDocument

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "signing-"))
  image = buildBusyboxImage(work)
  ;[cosign, other, registry, zot, sbom] = await Promise.all([
    setUpCosign(),
    setUpCosign(),
    startRegistry(),
    startZot(),
    (async () => spdxOfArchive(buildBusyboxImage(mkdtempSync(join(work, "sbom-"))).archive, "meetinity/api"))(),
  ])
}, 120_000)

afterAll(async () => {
  await Promise.all([registry?.stop(), zot?.stop()])
  rmSync(work, { recursive: true, force: true })
})

interface Statement {
  predicateType: string
  subject: { name?: string; digest: Record<string, string> }[]
  predicate: Record<string, unknown>
}
/** The in-toto statements of `verify-attestation` stdout (one DSSE envelope a line). */
const statements = (stdout: string): Statement[] =>
  stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(Buffer.from((JSON.parse(line) as { payload: string }).payload, "base64").toString()))

describe.each([
  ["distribution 2.8, the sha256-<hex> fallback index", () => registry, false],
  ["zot v1.4.3, the referrers API", () => zot, true],
])("the module signs with a key on %s", (_, target, api) => {
  const repository = "meetinity/api-gateway"
  const ref = () => `${target().host}/${repository}@${image.digest}`

  test("publish attaches three bundles, one after another, and cosign v3 verifies each", async () => {
    const report = await publishSigned(target(), repository, image, sbom, keySignerOf(cosign))
    expect(report.api).toBe(api)
    expect(report.added.map((a) => a.predicateType)).toEqual([
      PREDICATE.signature,
      PREDICATE.provenance,
      PREDICATE.sbom,
    ])
    expect(report.kept).toEqual([])
    expect(report.indexWritten).toBe(!api)
    // The fallback tag only where there is no referrers API.
    expect(skopeoTags(target().host, repository)).toEqual(api ? [VERSION] : [fallbackTag(image.digest), VERSION])

    const verified = await verify(cosign, ref())
    expect(verified.status, verified.stderr).toBe(0)
    expect(JSON.parse(verified.stdout.split("\n").find((l) => l.startsWith("["))!)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          critical: expect.objectContaining({
            image: { "docker-manifest-digest": image.digest },
            type: PREDICATE.signature,
          }),
        }),
      ]),
    )
    expect((await verify(other, ref())).status).not.toBe(0)

    const provenance = await verifyAttestation(cosign, ref(), "slsaprovenance1")
    expect(provenance.status, provenance.stderr).toBe(0)
    const [slsa] = statements(provenance.stdout).filter((s) => s.predicateType === PREDICATE.provenance)
    expect(slsa?.subject).toEqual([
      { name: `${target().host}/${repository}`, digest: { sha256: image.digest.slice(7) } },
    ])
    expect(slsa?.predicate).toMatchObject({
      buildDefinition: {
        externalParameters: { ref: "refs/tags/release/v1.2.3", commit: COMMIT },
        resolvedDependencies: [
          {
            uri: "git+https://github.com/meetinity/api-gateway@refs/tags/release/v1.2.3",
            digest: { gitCommit: COMMIT },
          },
        ],
      },
    })

    const spdx = await verifyAttestation(cosign, ref(), PREDICATE.sbom)
    expect(spdx.status, spdx.stderr).toBe(0)
    const [document] = statements(spdx.stdout).filter((s) => s.predicateType === PREDICATE.sbom)
    // syft's document as is: the image's Debian package at its dpkg version, and busybox itself.
    const packages = (document?.predicate as unknown as SpdxDocument).packages
    expect(packages).toContainEqual(
      expect.objectContaining({ name: "busybox-static", versionInfo: image.packageVersion }),
    )
    expect(packages.map((p) => p.name)).toContain("busybox")
    expect((await verifyAttestation(other, ref(), PREDICATE.sbom)).status).not.toBe(0)
  })

  test("cosign tree lists the three as OCI referrers, by predicate type", async () => {
    const listed = await tree(cosign, ref())
    expect(listed.status, listed.stderr).toBe(0)
    for (const type of Object.values(PREDICATE)) {
      expect(listed.stdout).toMatch(new RegExp(`${type.replace(/[./]/g, "\\$&")} artifacts via OCI referrer`))
    }
  })

  test("each referrer is cosign v3's artifact manifest; the fallback index carries artifact type and annotations", async () => {
    const index = api
      ? ((await (await fetch(`${target().url}/v2/${repository}/referrers/${image.digest}`)).json()) as {
          manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[]
        })
      : (JSON.parse(rawManifest(target().host, repository, fallbackTag(image.digest))) as {
          manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[]
        })
    expect(index.manifests).toHaveLength(3)
    for (const entry of index.manifests) {
      // zot v1.4.3 (image-spec 1.1.0-rc2) lists the config media type; the fallback index, the bundle type.
      expect(entry.artifactType).toBe(api ? EMPTY_CONFIG.mediaType : BUNDLE_MEDIA_TYPE)
      expect(entry.annotations).toMatchObject({ [ANNOTATION.content]: "dsse-envelope" })
      const manifest = JSON.parse(rawManifest(target().host, repository, entry.digest)) as Record<string, unknown>
      expect(Object.keys(manifest)).toEqual([
        "schemaVersion",
        "mediaType",
        "config",
        "layers",
        "annotations",
        "subject",
        "artifactType",
      ])
      expect(manifest).toMatchObject({
        artifactType: BUNDLE_MEDIA_TYPE,
        config: { mediaType: EMPTY_CONFIG.mediaType, size: 2, digest: EMPTY_CONFIG.digest },
        layers: [{ mediaType: BUNDLE_MEDIA_TYPE }],
        subject: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: image.digest, size: image.size },
        annotations: { [ANNOTATION.predicateType]: entry.annotations?.[ANNOTATION.predicateType] },
      })
    }
    expect(index.manifests.map((m) => m.annotations?.[ANNOTATION.predicateType]).sort()).toEqual(
      Object.values(PREDICATE).sort(),
    )
  })

  test("a re-run of the same commit adds nothing and writes nothing", async () => {
    const before = api ? undefined : rawManifest(target().host, repository, fallbackTag(image.digest))
    const report = await publishSigned(target(), repository, image, sbom, keySignerOf(cosign), { push: false })
    expect(report.added).toEqual([])
    expect(report.kept.map((k) => k.predicateType).sort()).toEqual(Object.values(PREDICATE).sort())
    expect(report.indexWritten).toBe(false)
    if (!api) expect(rawManifest(target().host, repository, fallbackTag(image.digest))).toBe(before)
  })

  test("the gate accepts it with the signer's public key", async () => {
    const report = await gate(
      target(),
      repository,
      image.digest,
      keyPolicy(cosign, ["signature", "provenance", "sbom"]),
    )
    expect(report.ok).toBe(true)
    expect(report.accepted).toEqual([PREDICATE.signature, PREDICATE.provenance, PREDICATE.sbom])
    // One list, three manifests, three bundles: each read once.
    expect(report.requests).toBe(api ? 7 : 8)
    expect(RELEASE.version).toBe(VERSION)
  })
})
