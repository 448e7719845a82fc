/**
 * The verification gate of a deploy: before any kubectl or Helm command, the digest about to be
 * deployed must carry what the policy requires (a signature, provenance of this release, an SBOM),
 * signed by whom the policy trusts (signing/verify.ts). Off by default; the workflows turn it on.
 */
import { type File } from "@dagger.io/dagger"

import { Steps, STEP } from "../common/steps.js"
import { RegistryClient } from "../oci/client.js"
import { type RegistryCredentials } from "../oci/manifest.js"
import { type ExpectedRelease } from "../signing/judge.js"
import { parseVerificationPolicy, type VerificationPolicy } from "../signing/policy.js"
import { type GateReport, verifyRelease } from "../signing/verify.js"
import { type PreflightTarget, type ResolvedImage } from "./preflight.js"

/** The gate's arguments as a Dagger call gives them. */
export interface GateArgs {
  readonly verify: string
  readonly verifyKey?: File | null
  readonly verifyIssuer: string
  readonly verifyIdentity: string
  readonly requirePredicates: readonly string[]
  readonly trustedRoot?: File | null
}

/** Reads the gate's arguments (the key and trusted root files' contents too) and checks them together. */
export async function parseGate(args: GateArgs): Promise<VerificationPolicy> {
  return parseVerificationPolicy({
    verify: args.verify,
    ...(args.verifyKey ? { publicKey: await args.verifyKey.contents() } : {}),
    issuer: args.verifyIssuer,
    identity: args.verifyIdentity,
    require: args.requirePredicates,
    ...(args.trustedRoot ? { trustedRoot: await args.trustedRoot.contents() } : {}),
  })
}

/** Runs the gate on the image the preflight resolved (with the reader's credentials); a step when the policy is on. */
export async function gateImage(
  target: PreflightTarget,
  image: ResolvedImage,
  policy: VerificationPolicy,
  expected: ExpectedRelease,
  credentials?: RegistryCredentials,
  steps = new Steps(),
): Promise<GateReport | undefined> {
  if (policy.mode === "off") return undefined
  const client = new RegistryClient(target.endpoint, credentials, { timeoutMs: 20_000 })
  return steps.run(
    STEP.verify,
    {
      attributes: { "oci.manifest.digest": image.digest, "sigstore.policy": policy.mode },
      result: (report) => ({ detail: report.message.split("\n")[0] }),
    },
    () =>
      verifyRelease(
        { client, repository: target.path, address: target.address, digest: image.digest },
        policy,
        expected,
      ),
  )
}
