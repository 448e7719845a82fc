/**
 * The pure decisions of signing: what a publish still has to attach, how the fallback index
 * grows, which source a provenance names (the module's, GitHub's attest-build-provenance,
 * cosign's), and the gate's verdict from bundles already checked.
 */
import { describe, expect, test } from "vitest"
import { decideAttach, fallbackEntries } from "../src/signing/attach.js"
import { type BundleCheck } from "../src/signing/bundle.js"
import { BUNDLE_MEDIA_TYPE, PREDICATE } from "../src/signing/constants.js"
import { judge, provenanceMatches, provenanceSource, type GateInput } from "../src/signing/judge.js"
import { provenanceStatement, signatureStatement } from "../src/signing/statement.js"

const DIGEST = `sha256:${"ab".repeat(32)}`
const COMMIT = "0123456789abcdef0123456789abcdef01234567"
const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`
const manifest = "application/vnd.oci.image.manifest.v1+json"

describe("what a publish still attaches", () => {
  test("the wanted types no valid bundle covers, in the wanted order", () => {
    const wanted = [PREDICATE.signature, PREDICATE.provenance, PREDICATE.sbom]
    expect(decideAttach(wanted, [])).toEqual(wanted)
    expect(
      decideAttach(wanted, [
        { predicateType: PREDICATE.sbom, valid: true },
        { predicateType: PREDICATE.signature, valid: false },
      ]),
    ).toEqual([PREDICATE.signature, PREDICATE.provenance])
    expect(
      decideAttach(
        wanted,
        wanted.map((predicateType) => ({ predicateType, valid: true })),
      ),
    ).toEqual([])
  })

  test("the fallback index keeps every entry, annotates the ones read, appends the new; unchanged: no write", () => {
    const cosigns = { mediaType: manifest, size: 800, digest: digest(1), artifactType: BUNDLE_MEDIA_TYPE }
    const notation = {
      mediaType: manifest,
      size: 600,
      digest: digest(2),
      artifactType: "application/vnd.cncf.notary.signature",
    }
    const annotations = { "dev.sigstore.bundle.predicateType": PREDICATE.signature }
    const read = { ...cosigns, annotations }
    const added = { mediaType: manifest, digest: digest(3), size: 900, artifactType: BUNDLE_MEDIA_TYPE, annotations }
    expect(fallbackEntries([cosigns, notation], [read], [added])).toEqual([
      { mediaType: manifest, size: 800, digest: digest(1), artifactType: BUNDLE_MEDIA_TYPE, annotations },
      notation,
      { mediaType: manifest, size: 900, digest: digest(3), artifactType: BUNDLE_MEDIA_TYPE, annotations },
    ])
    const written = fallbackEntries([cosigns, notation], [read], [added])!
    expect(fallbackEntries(written, [read, added], [])).toBeUndefined()
  })
})

describe("the source a provenance names", () => {
  test("the module's own", () => {
    const { predicate } = provenanceStatement(
      "ghcr.io/meetinity/api-gateway",
      DIGEST,
      { ref: "release/v1.2.3", commit: COMMIT, dockerfile: "Dockerfile", platforms: [], buildArgNames: [] },
      { builderId: "b" },
    )
    expect(provenanceSource(predicate)).toEqual({ ref: "refs/tags/release/v1.2.3", commit: COMMIT })
  })

  test("GitHub's attest-build-provenance: the workflow ref and the resolved source", () => {
    const github = {
      buildDefinition: {
        buildType: "https://actions.github.io/buildtypes/workflow/v1",
        externalParameters: {
          workflow: { ref: "refs/tags/release/v1.2.3", repository: "https://github.com/o/r", path: ".github/x.yml" },
        },
        resolvedDependencies: [
          { uri: "git+https://github.com/o/r@refs/tags/release/v1.2.3", digest: { gitCommit: COMMIT } },
        ],
      },
    }
    expect(provenanceSource(github)).toEqual({ ref: "refs/tags/release/v1.2.3", commit: COMMIT })
    expect(provenanceMatches(provenanceSource(github), { version: "v1.2.3", commit: "0123456789AB" })).toBe(true)
    expect(provenanceMatches(provenanceSource(github), { version: "v1.2.4" })).toBe(false)
    expect(provenanceMatches(provenanceSource(github), { version: "v1.2.3", commit: "0123abd" })).toBe(false)
    expect(provenanceMatches({ ref: "refs/heads/main", commit: COMMIT }, { version: "v1.2.3" })).toBe(false)
    expect(provenanceSource({ buildDefinition: {} })).toEqual({})
  })
})

describe("the gate's verdict", () => {
  const verified = (statement: object, signer = "key K"): BundleCheck => ({
    verdict: "verified",
    detail: "verified",
    signer,
    statement: statement as BundleCheck["statement"],
  })
  const input = (bundles: GateInput["bundles"]): GateInput => ({
    image: `ghcr.io/meetinity/api-gateway:v1.2.3@${DIGEST}`,
    digest: DIGEST,
    source: "the referrers API",
    listed: bundles.length,
    bundles,
    require: [PREDICATE.signature, PREDICATE.provenance],
    signers: "key K",
    expected: { version: "v1.2.3", commit: COMMIT },
  })
  const provenance = provenanceStatement(
    "ghcr.io/meetinity/api-gateway",
    DIGEST,
    { ref: "release/v1.2.3", commit: COMMIT, dockerfile: "Dockerfile", platforms: [], buildArgNames: [] },
    { builderId: "b" },
  )

  test("accepts when every required type verified about the digest, the required types first", () => {
    const decision = judge(
      input([
        { referrer: digest(3), check: verified(provenance) },
        {
          referrer: digest(4),
          check: verified({ ...signatureStatement("ghcr.io/x/y", DIGEST), predicateType: "https://x.example/v1" }),
        },
        { referrer: digest(5), check: verified(signatureStatement("ghcr.io/meetinity/api-gateway", DIGEST)) },
      ]),
    )
    expect(decision).toMatchObject({ ok: true, reasons: [] })
    expect(decision.accepted).toEqual([PREDICATE.signature, PREDICATE.provenance, "https://x.example/v1"])
    expect(decision.message).toMatch(/^ghcr\.io\/meetinity\/api-gateway:v1\.2\.3@sha256:a+b.* verified: signature/)
  })

  test("an annotation is not a statement: a bundle that did not verify counts as nothing", () => {
    const unreadable: BundleCheck = { verdict: "unreadable", detail: "not a Sigstore bundle (x)", signer: "nobody" }
    const decision = judge(input([{ referrer: digest(6), annotatedType: PREDICATE.signature, check: unreadable }]))
    expect(decision.reasons).toEqual([
      `missing signature (${PREDICATE.signature}): 1 bundle(s) of that type, none accepted (by nobody: not a Sigstore bundle (x))`,
      `missing provenance (${PREDICATE.provenance}): no bundle of that type is attached`,
    ])
    expect(decision.message).toContain("found (1 referrer(s) listed by the referrers API, 1 Sigstore bundle(s)):")
  })
})
