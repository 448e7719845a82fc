/**
 * Signing what publish published: for the digest pods pull, a signature statement, SLSA build
 * provenance and an SPDX SBOM (syft, in a container pinned by digest), each a Sigstore bundle
 * attached as an OCI 1.1 referrer (signing/attach.ts: only what is missing is added, so a re-run
 * rewrites nothing valid). Signed with a key (a PEM Secret) or keyless (an OIDC token Secret,
 * Fulcio and Rekor and/or a timestamp authority).
 */
import { type Container, dag, type Directory, type File, type Platform, type Secret } from "@dagger.io/dagger"

import { say } from "../common/redact.js"
import { Steps, STEP } from "../common/steps.js"
import { type ServiceNetwork } from "../engine/network.js"
import { RegistryClient } from "../oci/client.js"
import { parsePlatform, platformMatches } from "../oci/platform.js"
import { attachBundles, type AttachReport } from "../signing/attach.js"
import { PREDICATE, predicateName } from "../signing/constants.js"
import { decodeJwtClaims, githubActionsIdentity } from "../signing/oidc.js"
import { keylessSigner, keySigner, type StatementSigner } from "../signing/sign.js"
import {
  type BuildRun,
  buildFactsOf,
  dockerfileBaseImages,
  MODULE_BUILDER_ID,
  provenanceStatement,
  runFromGithub,
  sbomStatement,
  signatureStatement,
} from "../signing/statement.js"
import { parseTrustedRoot, publicGoodRoot, rootTrust, type Trust } from "../signing/trust.js"
import { parseSigning, type PublishPlan, type SigningArgs, type SigningPlan, SYFT_IMAGE } from "./inputs.js"
import { digestOf, platformImages, publishPlanned } from "./run.js"

/**
 * publish's and release's signing arguments as Dagger gives them, the trusted root file read (see
 * parseSigning), and a signing key read and checked now: a key that cannot sign is refused before
 * anything is built or pushed, not after the version tag is written.
 */
export async function readSigning(
  args: Omit<SigningArgs, "trustedRoot"> & { readonly trustedRoot?: File | null },
): Promise<SigningPlan> {
  const { trustedRoot, ...rest } = args
  const plan = parseSigning({ ...rest, ...(trustedRoot ? { trustedRoot: await trustedRoot.contents() } : {}) })
  if (plan.mode === "key") keySigner(await plan.key.plaintext())
  return plan
}

/** The statements publish attaches, in the order they are signed: the SBOM last (syft runs only when it is missing). */
export const ATTESTED = [PREDICATE.signature, PREDICATE.provenance, PREDICATE.sbom] as const

/** Who signs, with what trust their existing bundles are checked, and the run provenance names. */
async function signerOf(signing: Exclude<SigningPlan, { mode: "none" }>): Promise<{
  signer: StatementSigner
  trust?: Trust
  run: BuildRun
}> {
  if (signing.mode === "key")
    return { signer: keySigner(await signing.key.plaintext()), run: { builderId: MODULE_BUILDER_ID } }
  const token =
    "requestUrl" in signing.token ? await requestOidcToken(signing.token) : (await signing.token.plaintext()).trim()
  const claims = decodeJwtClaims(token, "oidcToken")
  const signer = keylessSigner({
    oidcToken: token,
    fulcioUrl: signing.fulcioUrl,
    ...(signing.rekorUrl ? { rekorUrl: signing.rekorUrl } : {}),
    ...(signing.timestampUrl ? { timestampUrl: signing.timestampUrl } : {}),
  })
  const root = signing.trustedRoot !== undefined ? parseTrustedRoot(signing.trustedRoot) : await publicGoodRoot()
  // In GitHub Actions the token says which workflow run this is: provenance names it as GitHub does.
  const run =
    typeof claims.job_workflow_ref === "string"
      ? runFromGithub(githubActionsIdentity(claims, { argument: "oidcToken" }), {
          startedOn: new Date().toISOString(),
        })
      : { builderId: MODULE_BUILDER_ID }
  return { signer, trust: rootTrust(root), run }
}

/**
 * The OIDC token for audience sigstore, requested from GitHub Actions' token endpoint now (as
 * cosign does in Actions): `GET <ACTIONS_ID_TOKEN_REQUEST_URL>&audience=sigstore` with the
 * request token as bearer; the answer's `value`.
 */
export async function requestOidcToken(request: { requestUrl: string; requestToken: Secret }): Promise<string> {
  const url = new URL(request.requestUrl)
  url.searchParams.set("audience", "sigstore")
  let response: Response
  try {
    response = await fetch(url, {
      headers: { authorization: `bearer ${await request.requestToken.plaintext()}`, accept: "application/json" },
      signal: AbortSignal.timeout(30_000),
    })
  } catch (error) {
    throw new Error(`could not request the OIDC token from ${url.origin}: ${(error as Error).message}`)
  }
  const body = (await response.json().catch(() => ({}))) as { value?: unknown }
  if (!response.ok || typeof body.value !== "string" || body.value === "")
    throw new Error(
      `the OIDC token endpoint ${url.origin} answered ${response.status} without a token: does the job have permissions id-token: write?`,
    )
  return body.value
}

/** The base images of the Dockerfile, each with the digest the engine resolves it to (what the build used). */
async function baseImages(source: Directory, plan: PublishPlan): Promise<{ reference: string; digest: string }[]> {
  const dockerfile = await source.file(plan.dockerfile).contents()
  const out: { reference: string; digest: string }[] = []
  for (const reference of dockerfileBaseImages(dockerfile)) {
    const resolved = await dag
      .container({ platform: plan.platforms[0] as Platform })
      .from(reference)
      .imageRef()
    const digest = /@(sha256:[0-9a-f]{64})$/.exec(resolved)?.[1]
    if (digest) out.push({ reference, digest })
  }
  return out
}

/** The SPDX 2.3 SBOM of an image, made by syft from the image's OCI archive, named after its repository. */
export async function imageSbom(image: Container, name: string, syftImage = SYFT_IMAGE): Promise<unknown> {
  const out = await dag
    .container()
    .from(syftImage)
    .withEnvVariable("SYFT_CHECK_FOR_APP_UPDATE", "false")
    .withMountedFile("/work/image.tar", image.asTarball())
    .withExec(["/syft", "scan", "oci-archive:/work/image.tar", "--source-name", name, "-o", "spdx-json", "-q"])
    .stdout()
  try {
    return JSON.parse(out) as unknown
  } catch {
    throw new Error(`syft printed no SBOM JSON; its output began: ${JSON.stringify(out.slice(0, 200))}`)
  }
}

/** The image an SPDX SBOM by syft describes: its root package, named `name`, has the manifest digest as its version. */
export function sbomImageDigest(sbom: unknown, name: string): string | undefined {
  const packages = (sbom as { packages?: { name?: unknown; versionInfo?: unknown }[] } | null)?.packages
  const root = Array.isArray(packages) ? packages.find((p) => p.name === name) : undefined
  return typeof root?.versionInfo === "string" && /^sha256:[0-9a-f]{64}$/.test(root.versionInfo)
    ? root.versionInfo
    : undefined
}

/** The manifest digest of the plan's first platform in what was pushed: the digest itself, or its index's child. */
async function platformManifestDigest(client: RegistryClient, plan: PublishPlan, digest: string): Promise<string> {
  const pushed = await client.manifest(plan.repository.path, digest)
  const children = pushed.json.manifests
  if (!children) return digest
  const want = parsePlatform(plan.platforms[0]!)
  return children.find((c) => platformMatches(c.platform, want))?.digest ?? digest
}

/**
 * Signs and attaches what is missing for the published digest. The SBOM is made from the image of
 * the plan's first platform, built from the same source: in the call that built it, the engine's
 * cache serves the build that was pushed; a later call may rebuild other bytes, and then syft's
 * image (the SBOM names its manifest digest) is not the pushed one and the SBOM is skipped, said
 * so, never signed. Returns what was added, kept and skipped, or undefined when publish does not sign.
 */
export async function attestPublished(
  source: Directory,
  plan: PublishPlan,
  digest: string,
  signing: SigningPlan,
  client: RegistryClient,
  steps = new Steps(),
): Promise<AttachReport | undefined> {
  if (signing.mode === "none") return undefined
  const { signer, trust, run } = await signerOf(signing)
  const repository = plan.repository.address.replace(/^https?:\/\//, "")
  const facts = buildFactsOf(plan, await baseImages(source, plan))
  const image = platformImages(source, plan)[0]!
  return steps.run(
    STEP.attest,
    {
      attributes: { "oci.manifest.digest": digest, "sigstore.signer": signer.description },
      result: (report) => ({
        detail: [
          report.added.length > 0 ? `added ${report.added.map((a) => predicateName(a.predicateType)).join(", ")}` : "",
          report.kept.length > 0 ? `kept ${report.kept.map((a) => predicateName(a.predicateType)).join(", ")}` : "",
          report.skipped.length > 0
            ? `skipped ${report.skipped.map((a) => predicateName(a.predicateType)).join(", ")}`
            : "",
          `signed by ${signer.description}`,
        ]
          .filter(Boolean)
          .join("; "),
      }),
    },
    () =>
      attachBundles({
        client,
        repository: plan.repository.path,
        digest,
        signer,
        statements: {
          [PREDICATE.signature]: () => signatureStatement(repository, digest),
          [PREDICATE.provenance]: () =>
            provenanceStatement(repository, digest, facts, { ...run, finishedOn: new Date().toISOString() }),
          [PREDICATE.sbom]: async () => {
            const sbom = await steps.run(
              STEP.sbom,
              { result: () => ({ detail: `syft ${(signing.syftImage ?? SYFT_IMAGE).split("@")[0]}` }) },
              () => imageSbom(image, repository, signing.syftImage),
            )
            // The image syft read is rebuilt from the source: signed only if it is the one pushed.
            const scanned = sbomImageDigest(sbom, repository)
            const pushed = await platformManifestDigest(client, plan, digest)
            return scanned === pushed
              ? sbomStatement(repository, digest, sbom)
              : {
                  skipped: `the image rebuilt for it (${scanned ?? "no digest in syft's SBOM"}) is not the ${plan.platforms[0]} image pushed (${pushed}): this engine did not rebuild the same bytes (its cache no longer holds that build, and the build is not reproducible), and an SBOM of another image is never signed; a publish that builds and signs in one call attaches it`,
                }
          },
        },
        expected: { version: plan.version.tag, commit: plan.sha },
        ...(trust ? { trust } : {}),
      }),
  )
}

/**
 * publish, signed: publishes (run.ts), then signs and attaches what is missing for the digest.
 * A failure to sign leaves the image published: the error says so, and that publishing again
 * adds only what is missing.
 */
export async function publishSigned(
  source: Directory,
  plan: PublishPlan,
  password: Secret,
  signing: SigningPlan,
  options: { readonly network?: ServiceNetwork; readonly steps?: Steps; readonly log?: (line: string) => void } = {},
): Promise<[string, string]> {
  const published = await publishPlanned(source, plan, password, options)
  if (signing.mode === "none") return published
  const client = new RegistryClient(options.network?.registry?.endpoint ?? plan.repository, {
    username: plan.username,
    password: await password.plaintext(),
  })
  const report = await attestPublished(source, plan, digestOf(published[0]), signing, client, options.steps).catch(
    (error: Error) => {
      throw new Error(
        `${error.message}\n${published.join(" and ")} ${published.length > 1 ? "are" : "is"} published, but not signed: publishing again signs and attaches only what is missing.`,
      )
    },
  )
  for (const { predicateType, why } of report?.skipped ?? [])
    (options.log ?? say)(`publish: ${predicateName(predicateType)} not attached: ${why}`)
  return published
}
