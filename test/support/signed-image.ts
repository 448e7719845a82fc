/**
 * The signing tests' publish: the busybox image pushed with skopeo, then signed and attached by
 * the module's own code (src/signing) as publish will do it: a signature, SLSA provenance v1 of
 * a made-up release and syft's SPDX SBOM of the image, with a key signer or a keyless one.
 */
import { readFileSync } from "node:fs"
import { RegistryClient } from "../../src/oci/client.js"
import { attachBundles, type AttachReport } from "../../src/signing/attach.js"
import { type IdentityRule } from "../../src/signing/bundle.js"
import { PREDICATE } from "../../src/signing/constants.js"
import { type ExpectedRelease } from "../../src/signing/judge.js"
import { parseVerificationPolicy, type VerificationPolicy } from "../../src/signing/policy.js"
import { keySigner, type StatementSigner } from "../../src/signing/sign.js"
import {
  type BuildRun,
  MODULE_BUILDER_ID,
  provenanceStatement,
  sbomStatement,
  signatureStatement,
  type Statement,
} from "../../src/signing/statement.js"
import { type Trust } from "../../src/signing/trust.js"
import { verifyRelease, type GateReport } from "../../src/signing/verify.js"
import { type BuiltImage, pushImage } from "./busybox-image.js"
import { type Cosign } from "./cosign.js"
import { COMMIT } from "./oidc.js"
import { type RunningRegistry } from "./registry.js"
import { type SpdxDocument } from "./syft.js"

export const VERSION = "v1.2.3"
export { COMMIT }
export const RELEASE: ExpectedRelease = { version: VERSION, commit: COMMIT }

/** The module's registry client for a plain-http test registry. */
export function clientOf(registry: RunningRegistry): RegistryClient {
  return new RegistryClient({ scheme: "http", host: registry.host }, undefined, { msPerSecond: 1 })
}

/** The release's provenance predicate, made by the module (outside Actions: no workflow). */
export function provenanceOf(
  address: string,
  digest: string,
  release = RELEASE,
  run: BuildRun = { builderId: MODULE_BUILDER_ID, invocationId: "test-run-1" },
): Statement {
  return provenanceStatement(
    address,
    digest,
    {
      ref: `release/${release.version}`,
      commit: release.commit ?? COMMIT,
      sourceRepository: "https://github.com/meetinity/api-gateway",
      dockerfile: "Dockerfile",
      platforms: ["linux/amd64"],
      buildArgNames: ["NODE_ENV"],
    },
    run,
  )
}

/** The three statements of a publish, by predicate type (only `types` of them). */
export function statementsOf(
  address: string,
  digest: string,
  sbom: SpdxDocument,
  types: readonly string[] = Object.values(PREDICATE),
  release = RELEASE,
  run?: BuildRun,
): Record<string, () => Statement> {
  const all: Record<string, () => Statement> = {
    [PREDICATE.signature]: () => signatureStatement(address, digest),
    [PREDICATE.provenance]: () => provenanceOf(address, digest, release, run),
    [PREDICATE.sbom]: () => sbomStatement(address, digest, sbom),
  }
  return Object.fromEntries(types.map((type) => [type, all[type]!]))
}

/** The key signer of a cosign test key pair (its PKCS#8 PEM, as a Dagger Secret's plaintext would be). */
export function keySignerOf(cosign: Cosign): StatementSigner {
  return keySigner(readFileSync(cosign.pkcs8, "utf8"))
}

/** Pushes the image under `repository:tag` and attaches `types` signed by `signer`. */
export async function publishSigned(
  registry: RunningRegistry,
  repository: string,
  image: BuiltImage,
  sbom: SpdxDocument,
  signer: StatementSigner,
  options: {
    types?: readonly string[]
    release?: ExpectedRelease
    push?: boolean
    trust?: Trust
    identity?: IdentityRule
    run?: BuildRun
  } = {},
): Promise<AttachReport> {
  if (options.push !== false) pushImage(image, registry.host, repository, options.release?.version ?? VERSION)
  const address = `${registry.host}/${repository}`
  return attachBundles({
    client: clientOf(registry),
    repository,
    digest: image.digest,
    signer,
    statements: statementsOf(address, image.digest, sbom, options.types, options.release, options.run),
    expected: options.release ?? RELEASE,
    ...(options.trust ? { trust: options.trust } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
  })
}

/** A key policy trusting a cosign key pair's public key. */
export function keyPolicy(cosign: Cosign, require: string[] = []): VerificationPolicy {
  return parseVerificationPolicy({ verify: "key", publicKey: readFileSync(cosign.publicKey, "utf8"), require })
}

/** Runs the gate on `repository@digest`. */
export function gate(
  registry: RunningRegistry,
  repository: string,
  digest: string,
  policy: VerificationPolicy,
  release = RELEASE,
): Promise<GateReport> {
  return verifyRelease(
    { client: clientOf(registry), repository, address: `${registry.host}/${repository}`, digest },
    policy,
    release,
  )
}

/** The refusal a gate throws (fails the test when it passes). */
export async function refusal(promise: Promise<unknown>): Promise<{ message: string; reasons: readonly string[] }> {
  try {
    await promise
  } catch (error) {
    const e = error as { name?: string; message: string; reasons?: readonly string[] }
    if (e.name !== "SignatureRefusedError") throw error
    return { message: e.message, reasons: e.reasons ?? [] }
  }
  throw new Error("the gate passed, a refusal was expected")
}
