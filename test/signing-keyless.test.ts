/**
 * Keyless signing and its identity policy, offline: a GitHub Actions-shaped OIDC token from a
 * test issuer, the Fulcio stand-in (test/support/fulcio.ts) issuing the certificate, the Rekor
 * stand-in (test/support/rekor.ts) logging each bundle, a trusted root listing both. The module
 * signs and attaches on docker-registry; the gate accepts the workflow's identity by an anchored
 * pattern and refuses lookalikes that sigstore-js's own (unanchored) SAN policy lets through.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { bundleFromJSON } from "@sigstore/bundle"
import { toSignedEntity } from "@sigstore/verify"
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest"
import { attachBundles } from "../src/signing/attach.js"
import { PREDICATE } from "../src/signing/constants.js"
import { decodeJwtClaims, githubActionsIdentity } from "../src/signing/oidc.js"
import { exactPattern, parseVerificationPolicy } from "../src/signing/policy.js"
import { CERTIFICATE_REUSE_MS, keylessSigner, SigningError } from "../src/signing/sign.js"
import { runFromGithub, signatureStatement } from "../src/signing/statement.js"
import { parseTrustedRoot, rootTrust } from "../src/signing/trust.js"
import { buildBusyboxImage, pushImage, type BuiltImage } from "./support/busybox-image.js"
import { startFulcio, trustedRoot, type RunningFulcio } from "./support/fulcio.js"
import { GITHUB_CLAIMS, testIssuer, type TestIssuer } from "./support/oidc.js"
import { startRekor, type RunningRekor } from "./support/rekor.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { clientOf, gate, publishSigned, refusal, RELEASE, statementsOf } from "./support/signed-image.js"
import { readAttached } from "../src/signing/referrers.js"
import { type SpdxDocument } from "./support/syft.js"

const GITHUB = "https://token.actions.githubusercontent.com"
const IDENTITY = "https://github.com/meetinity/api-gateway/.github/workflows/cd.yml@refs/tags/release/v1.2.3"
const PATTERN = "https://github\\.com/meetinity/api-gateway/\\.github/workflows/cd\\.yml@refs/tags/release/v.*"
const sbom = { spdxVersion: "SPDX-2.3", name: "busybox", packages: [] } as unknown as SpdxDocument

let work: string
let image: BuiltImage
let issuer: TestIssuer
let fulcio: RunningFulcio
let rekor: RunningRekor
let registry: RunningRegistry
let root: string

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "signing-keyless-"))
  image = buildBusyboxImage(work)
  issuer = testIssuer(GITHUB)
  ;[fulcio, rekor, registry] = await Promise.all([startFulcio([issuer]), startRekor(), startRegistry()])
  root = trustedRoot(fulcio, rekor)
}, 120_000)

afterAll(async () => {
  await Promise.all([registry?.stop(), fulcio?.stop(), rekor?.stop()])
  rmSync(work, { recursive: true, force: true })
})

/** Signs and attaches as a GitHub Actions job whose workflow is `jobWorkflowRef`. */
async function publishAs(
  repository: string,
  jobWorkflowRef: string,
  types: string[] = [PREDICATE.signature, PREDICATE.provenance],
) {
  const token = issuer.token({ ...GITHUB_CLAIMS, job_workflow_ref: jobWorkflowRef, workflow_ref: jobWorkflowRef })
  const signer = keylessSigner({ oidcToken: token, fulcioUrl: fulcio.url, rekorUrl: rekor.url })
  // What counts as already there: bundles by exactly this job's identity (attachBundles' default).
  return publishSigned(registry, repository, image, sbom, signer, {
    types,
    trust: rootTrust(parseTrustedRoot(root)),
    run: runFromGithub(githubActionsIdentity(decodeJwtClaims(token))),
  })
}

const keyless = (identity: string, require: string[] = []) =>
  parseVerificationPolicy({ verify: "keyless", issuer: GITHUB, identity, trustedRoot: root, require })

describe("keyless signing through the Fulcio and Rekor stand-ins", () => {
  test("one certificate for the three bundles, one log entry each; the gate accepts the workflow's identity", async () => {
    const before = { fulcio: fulcio.requests, rekor: rekor.entries }
    const report = await publishAs(
      "meetinity/api-gateway",
      "meetinity/api-gateway/.github/workflows/cd.yml@refs/tags/release/v1.2.3",
      Object.values(PREDICATE),
    )
    expect(report.added.map((a) => a.predicateType)).toEqual(Object.values(PREDICATE))
    expect(fulcio.requests - before.fulcio).toBe(1)
    expect(rekor.entries - before.rekor).toBe(3)
    expect(fulcio.issued.at(-1)).toEqual({ identity: IDENTITY, issuer: GITHUB })

    const passed = await gate(
      registry,
      "meetinity/api-gateway",
      image.digest,
      keyless(PATTERN, ["signature", "provenance", "sbom"]),
    )
    expect(passed.accepted).toEqual(Object.values(PREDICATE))
    expect(passed.message).toContain(`by ${IDENTITY} (issuer ${GITHUB}): verified`)

    // A re-run (a new job, a new token) finds them valid: no certificate, no log entry, nothing pushed.
    const again = await publishAs(
      "meetinity/api-gateway",
      "meetinity/api-gateway/.github/workflows/cd.yml@refs/tags/release/v1.2.3",
      Object.values(PREDICATE),
    )
    expect(again.added).toEqual([])
    expect(fulcio.requests - before.fulcio).toBe(1)
  })

  test("the provenance names the workflow run as GitHub's own attestations do", async () => {
    const state = await readAttached(clientOf(registry), "meetinity/api-gateway", image.digest)
    const provenance = state.bundles.find((b) => b.annotatedType === PREDICATE.provenance)!
    const bundle = JSON.parse(Buffer.from(provenance.bytes).toString()) as { dsseEnvelope: { payload: string } }
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, "base64").toString()) as {
      predicate: { buildDefinition: { externalParameters: object }; runDetails: object }
    }
    expect(statement.predicate.buildDefinition.externalParameters).toMatchObject({
      workflow: {
        ref: "refs/tags/release/v1.2.3",
        repository: "https://github.com/meetinity/api-gateway",
        path: ".github/workflows/cd.yml",
      },
    })
    expect(statement.predicate.runDetails).toEqual({
      builder: { id: "https://github.com/actions/runner/github-hosted" },
      metadata: { invocationId: "https://github.com/meetinity/api-gateway/actions/runs/987/attempts/2" },
    })
  })

  test.each([
    ["a lookalike ref", "meetinity/api-gateway/.github/workflows/cd.yml@refs/heads/main", PATTERN, false],
    [
      "a prefix trick (the identity ends with the wanted one)",
      "evil/fork/.github/workflows/x.yml@refs/heads/https://github.com/meetinity/api-gateway/.github/workflows/cd.yml@refs/tags/release/v1.2.3",
      PATTERN,
      true,
    ],
    [
      "a suffix trick (the identity starts with the wanted one)",
      "meetinity/api-gateway/.github/workflows/cd.yml@refs/tags/release/v1.2.3-evil",
      exactPattern(IDENTITY),
      true,
    ],
  ])("%s is refused by the anchored pattern", async (_, jobWorkflowRef, pattern, unanchoredAccepts) => {
    const repository = `meetinity/lookalike-${Math.abs(hash(jobWorkflowRef))}`
    await publishAs(repository, jobWorkflowRef)
    const san = `https://github.com/${jobWorkflowRef}`
    const refused = await refusal(gate(registry, repository, image.digest, keyless(pattern)))
    expect(refused.reasons[0]).toBe(
      `missing signature (${PREDICATE.signature}): 1 bundle(s) of that type, none accepted (by ${san} (issuer ${GITHUB}): signed by ${san} (issuer ${GITHUB}), wanted ${pattern} (issuer ${GITHUB}))`,
    )
    // The same bundle through @sigstore/verify's own policy: its SAN match is a bare RegExp test.
    const state = await readAttached(clientOf(registry), repository, image.digest)
    const bundle = bundleFromJSON(JSON.parse(Buffer.from(state.bundles[0]!.bytes).toString()))
    const { verifier } = rootTrust(parseTrustedRoot(root))
    const unanchored = () =>
      verifier.verify(toSignedEntity(bundle), { subjectAlternativeName: pattern, extensions: { issuer: GITHUB } })
    if (unanchoredAccepts) expect(unanchored).not.toThrow()
    else expect(unanchored).toThrow(/certificate identity error/)
  })

  test("another issuer is refused, even with the same identity", async () => {
    const policy = parseVerificationPolicy({
      verify: "keyless",
      issuer: "https://token.actions.example.com",
      identity: PATTERN,
      trustedRoot: root,
    })
    const refused = await refusal(gate(registry, "meetinity/api-gateway", image.digest, policy))
    expect(refused.reasons[0]).toContain(`wanted ${PATTERN} (issuer https://token.actions.example.com)`)
  })

  test("a certificate from a CA the trusted root does not list is refused", async () => {
    const elsewhere = await startFulcio([issuer])
    try {
      const otherRoot = trustedRoot(elsewhere, rekor)
      const policy = parseVerificationPolicy({
        verify: "keyless",
        issuer: GITHUB,
        identity: PATTERN,
        trustedRoot: otherRoot,
      })
      const refused = await refusal(gate(registry, "meetinity/api-gateway", image.digest, policy))
      expect(refused.reasons[0]).toContain(": its certificate does not chain to a trusted CA (CERTIFICATE_ERROR")
    } finally {
      await elsewhere.stop()
    }
  })
})

describe("a certificate is used for five minutes", () => {
  test("a statement signed later (a slow SBOM) gets a new certificate; both verify", async () => {
    const repository = "meetinity/slow-sbom"
    pushImage(image, registry.host, repository, RELEASE.version)
    const token = issuer.token(GITHUB_CLAIMS)
    const signer = keylessSigner({ oidcToken: token, fulcioUrl: fulcio.url, rekorUrl: rekor.url })
    const before = fulcio.requests
    const statements = statementsOf(`${registry.host}/${repository}`, image.digest, sbom)
    const start = Date.now()
    const slow = {
      ...statements,
      [PREDICATE.sbom]: () => {
        vi.setSystemTime(start + CERTIFICATE_REUSE_MS + 60_000)
        return statements[PREDICATE.sbom]!()
      },
    }
    try {
      await attachBundles({
        client: clientOf(registry),
        repository,
        digest: image.digest,
        signer,
        statements: slow,
        expected: RELEASE,
        trust: rootTrust(parseTrustedRoot(root)),
      })
    } finally {
      vi.useRealTimers()
    }
    expect(fulcio.requests - before).toBe(2)
    const policy = keyless(PATTERN, ["signature", "provenance", "sbom"])
    expect((await gate(registry, repository, image.digest, policy)).accepted).toEqual(Object.values(PREDICATE))
  })
})

describe("keyless failures never show the token", () => {
  test("a token Fulcio refuses: the error names Fulcio's reason, not the token", async () => {
    const stranger = testIssuer("https://issuer.example")
    const token = stranger.token({ sub: "repo:meetinity/api-gateway:ref:refs/heads/main" })
    const signer = keylessSigner({ oidcToken: token, fulcioUrl: fulcio.url, rekorUrl: rekor.url })
    const failure = await signer
      .sign(signatureStatement("ghcr.io/meetinity/api-gateway", image.digest))
      .catch((e: Error) => e)
    expect(failure).toBeInstanceOf(SigningError)
    expect(String(failure)).toContain(
      `signing ${PREDICATE.signature} keyless (Fulcio ${fulcio.url}, Rekor ${rekor.url}) failed: CA_CREATE_SIGNING_CERTIFICATE_ERROR`,
    )
    expect(String(failure)).toContain("the token's issuer https://issuer.example is not trusted")
    for (const part of token.split(".")) expect(String(failure)).not.toContain(part)
  })
})

function hash(text: string): number {
  let h = 0
  for (const c of text) h = (h * 31 + c.charCodeAt(0)) | 0
  return h
}
