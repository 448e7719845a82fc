/**
 * The verification gate before a deploy, on real registries and against real cosign v3 bundles:
 * an image signed and attested by `cosign sign --key` / `cosign attest --type slsaprovenance1`
 * passes; unsigned, wrongly signed, copied, tampered, incomplete and other-release images are
 * refused, each with what was found and what was wanted.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, test } from "vitest"
import { attachBundles } from "../src/signing/attach.js"
import { fallbackTag, OCI_INDEX, PREDICATE } from "../src/signing/constants.js"
import { parseVerificationPolicy } from "../src/signing/policy.js"
import { keySigner, newSigningKey } from "../src/signing/sign.js"
import { buildBusyboxImage, pushImage, rawManifest, type BuiltImage } from "./support/busybox-image.js"
import { attest, setUpCosign, sign, verify, type Cosign } from "./support/cosign.js"
import { OciPusher } from "./support/oci.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import {
  clientOf,
  COMMIT,
  gate,
  keyPolicy,
  keySignerOf,
  provenanceOf,
  publishSigned,
  refusal,
  RELEASE,
  statementsOf,
} from "./support/signed-image.js"
import { pushBundleReferrer } from "./support/sigstore-bundle.js"
import { startZot } from "./support/zot.js"
import { signatureStatement } from "../src/signing/statement.js"
import { type SpdxDocument } from "./support/syft.js"

let work: string
let image: BuiltImage
let cosign: Cosign
let other: Cosign
let registry: RunningRegistry
let zot: RunningRegistry
/** The SBOM is not what these tests are about: a minimal SPDX 2.3 document. */
const sbom = { spdxVersion: "SPDX-2.3", name: "busybox", packages: [] } as unknown as SpdxDocument

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "signing-gate-"))
  image = buildBusyboxImage(work)
  ;[cosign, other, registry, zot] = await Promise.all([setUpCosign(), setUpCosign(), startRegistry(), startZot()])
}, 120_000)

afterAll(async () => {
  await Promise.all([registry?.stop(), zot?.stop()])
  rmSync(work, { recursive: true, force: true })
})

const subject = () => ({
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: image.digest,
  size: image.size,
})
const hintOf = (c: Cosign) =>
  keySignerOf(c).identity.kind === "key" && (keySignerOf(c).identity as { hint: string }).hint

describe.each([
  ["distribution 2.8", () => registry],
  ["zot", () => zot],
])("an image signed by cosign v3 on %s", (_, target) => {
  test("passes the gate: cosign's bundles, statements (v1 and v0.1) and key hint are the module's", async () => {
    const repository = "meetinity/cosigned"
    pushImage(image, target().host, repository, RELEASE.version)
    const ref = `${target().host}/${repository}@${image.digest}`
    expect((await sign(cosign, ref)).status).toBe(0)
    const predicate = provenanceOf(`${target().host}/${repository}`, image.digest).predicate
    const attested = await attest(cosign, ref, "slsaprovenance1", predicate)
    expect(attested.status, attested.stderr).toBe(0)

    const report = await gate(target(), repository, image.digest, keyPolicy(cosign))
    expect(report.accepted).toEqual([PREDICATE.signature, PREDICATE.provenance])
    // cosign's hint is the module's: the base64 SHA-256 of the public key's DER.
    expect(report.message).toContain(`by key ${hintOf(cosign)}: verified`)

    const wrongKey = await refusal(gate(target(), repository, image.digest, keyPolicy(other)))
    expect(wrongKey.reasons[0]).toContain(`by key ${hintOf(cosign)}: signed by another key`)
  })
})

describe("refusals", () => {
  const policy = () => keyPolicy(cosign)

  test("an unsigned digest", async () => {
    pushImage(image, registry.host, "meetinity/unsigned", RELEASE.version)
    const refused = await refusal(gate(registry, "meetinity/unsigned", image.digest, policy()))
    expect(refused.reasons).toEqual([
      `it is not signed: no Sigstore bundle is attached (the fallback tag ${fallbackTag(image.digest)} lists 0 referrer(s))`,
    ])
    expect(refused.message).toContain(
      `refusing to deploy ${registry.host}/meetinity/unsigned:v1.2.3@${image.digest}: it is not signed`,
    )
    expect(refused.message).toContain(
      `wanted: signature (${PREDICATE.signature}), provenance (${PREDICATE.provenance}) signed by key ${hintOf(cosign)}`,
    )
  })

  test("a signature by another key", async () => {
    await publishSigned(registry, "meetinity/other-key", image, sbom, keySignerOf(other))
    const refused = await refusal(gate(registry, "meetinity/other-key", image.digest, policy()))
    const by = `by key ${hintOf(other)}: signed by another key (SIGNATURE_ERROR: signature verification failed)`
    expect(refused.reasons).toEqual([
      `missing signature (${PREDICATE.signature}): 1 bundle(s) of that type, none accepted (${by})`,
      `missing provenance (${PREDICATE.provenance}): 1 bundle(s) of that type, none accepted (${by})`,
    ])
  })

  test("a bundle copied from another digest", async () => {
    const repository = "meetinity/copied"
    await publishSigned(registry, repository, image, sbom, keySignerOf(cosign), { types: [PREDICATE.provenance] })
    const elsewhere = `sha256:${"0".repeat(64)}`
    const copied = await keySignerOf(cosign).sign(signatureStatement(`${registry.host}/${repository}`, elsewhere))
    await pushBundleReferrer(registry.url, repository, subject(), Buffer.from(copied.bundle), PREDICATE.signature, {
      fallbackTag: true,
    })
    const refused = await refusal(gate(registry, repository, image.digest, policy()))
    expect(refused.reasons).toEqual([
      `missing signature (${PREDICATE.signature}): 1 bundle(s) of that type, none accepted (names another digest: its statement's subject is ${elsewhere}, not ${image.digest} (a bundle copied from another image))`,
    ])
  })

  test("a tampered payload", async () => {
    const repository = "meetinity/tampered"
    await publishSigned(registry, repository, image, sbom, keySignerOf(cosign), { types: [PREDICATE.signature] })
    const signed = await keySignerOf(cosign).sign(provenanceOf(`${registry.host}/${repository}`, image.digest))
    const bundle = JSON.parse(Buffer.from(signed.bundle).toString()) as { dsseEnvelope: { payload: string } }
    const payload = Buffer.from(bundle.dsseEnvelope.payload, "base64").toString()
    bundle.dsseEnvelope.payload = Buffer.from(payload.replaceAll(COMMIT, "f".repeat(40))).toString("base64")
    await pushBundleReferrer(
      registry.url,
      repository,
      subject(),
      Buffer.from(JSON.stringify(bundle)),
      PREDICATE.provenance,
      { fallbackTag: true },
    )
    const refused = await refusal(gate(registry, repository, image.digest, policy()))
    expect(refused.reasons).toEqual([
      `missing provenance (${PREDICATE.provenance}): 1 bundle(s) of that type, none accepted (by key ${hintOf(cosign)}: its signature does not match its payload (altered after signing) (SIGNATURE_ERROR: signature verification failed))`,
    ])
  })

  test("a missing required predicate", async () => {
    const repository = "meetinity/no-sbom"
    await publishSigned(registry, repository, image, sbom, keySignerOf(cosign), {
      types: [PREDICATE.signature, PREDICATE.provenance],
    })
    const refused = await refusal(gate(registry, repository, image.digest, keyPolicy(cosign, ["signature", "sbom"])))
    expect(refused.reasons).toEqual([`missing sbom (${PREDICATE.sbom}): no bundle of that type is attached`])
    expect(refused.message).toContain(`- signature (${PREDICATE.signature}) in sha256:`)
    expect(refused.message).toContain(`- provenance (${PREDICATE.provenance}) in sha256:`)
  })

  test("a provenance of another commit, or of another version", async () => {
    const repository = "meetinity/other-commit"
    await publishSigned(registry, repository, image, sbom, keySignerOf(cosign))
    const otherCommit = { version: RELEASE.version, commit: "fedcba9" }
    const refused = await refusal(gate(registry, repository, image.digest, policy(), otherCommit))
    expect(refused.reasons).toEqual([
      `its provenance is not the version being deployed: it names refs/tags/release/v1.2.3 at ${COMMIT}; wanted refs/tags/release/v1.2.3 at fedcba9`,
    ])
    const otherVersion = await refusal(gate(registry, repository, image.digest, policy(), { version: "v1.2.4" }))
    expect(otherVersion.reasons).toEqual([
      `its provenance is not the version being deployed: it names refs/tags/release/v1.2.3 at ${COMMIT}; wanted refs/tags/release/v1.2.4`,
    ])
    // The short commit of a build tag is enough to compare.
    expect((await gate(registry, repository, image.digest, policy(), { ...RELEASE, commit: "0123456" })).ok).toBe(true)
    // A re-publish of v1.2.4 at the same digest adds its own provenance, and the gate then accepts v1.2.4.
    const v124 = { version: "v1.2.4", commit: COMMIT }
    const republished = await publishSigned(registry, repository, image, sbom, keySignerOf(cosign), { release: v124 })
    expect(republished.added.map((a) => a.predicateType)).toEqual([PREDICATE.provenance])
    expect((await gate(registry, repository, image.digest, policy(), v124)).ok).toBe(true)
    const index = JSON.parse(rawManifest(registry.host, repository, fallbackTag(image.digest))) as {
      manifests: unknown[]
    }
    expect(index.manifests).toHaveLength(4)
  })
})

describe("other digests and keys", () => {
  test("an image index (the digest pods pull for several platforms) is signed and verified as such", async () => {
    const repository = "meetinity/multi-arch"
    const { index } = await new OciPusher(registry.url).multiArch(
      repository,
      "signing",
      ["linux/amd64", "linux/arm64"],
      {
        tag: RELEASE.version,
      },
    )
    const report = await attachBundles({
      client: clientOf(registry),
      repository,
      digest: index.digest,
      signer: keySignerOf(cosign),
      statements: statementsOf(`${registry.host}/${repository}`, index.digest, sbom),
      expected: RELEASE,
    })
    expect(report.subject).toEqual({ mediaType: OCI_INDEX, digest: index.digest, size: index.size })
    const verified = await verify(cosign, `${registry.host}/${repository}@${index.digest}`)
    expect(verified.status, verified.stderr).toBe(0)
    expect((await gate(registry, repository, index.digest, keyPolicy(cosign, ["sbom"]))).ok).toBe(true)
  })

  test("a key made for a rehearsal signs, and its public half verifies", async () => {
    const key = newSigningKey()
    const repository = "meetinity/rehearsal"
    await publishSigned(registry, repository, image, sbom, keySigner(key.privateKey))
    const policy = parseVerificationPolicy({ verify: "key", publicKey: key.publicKey })
    expect((await gate(registry, repository, image.digest, policy)).accepted).toEqual(Object.values(PREDICATE))
  })

  test("a fallback tag that holds something else than an index is left alone, and said so", async () => {
    const repository = "meetinity/squatted"
    pushImage(image, registry.host, repository, fallbackTag(image.digest))
    const failure = await gate(registry, repository, image.digest, keyPolicy(cosign)).catch((e: Error) => e)
    expect(String(failure)).toContain(
      `${repository}:${fallbackTag(image.digest)} holds a application/vnd.oci.image.manifest.v1+json, not the OCI image index that lists the referrers of ${image.digest}`,
    )
    const refused = await publishSigned(registry, repository, image, sbom, keySignerOf(cosign), { push: false }).catch(
      (e: Error) => e,
    )
    expect(String(refused)).toContain("it is left as it is")
    expect(rawManifest(registry.host, repository, fallbackTag(image.digest))).toBe(
      rawManifest(registry.host, repository, image.digest),
    )
  })
})
