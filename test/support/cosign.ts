/**
 * cosign v3.1.3 (from ci/sign-tools.mjs), offline, against a plain-http registry on the loopback:
 * key signing with a key pair made here, no Fulcio, no Rekor, no TUF.
 *
 * What cosign v3 writes and reads (checked in its source, cmd/cosign/cli and pkg/oci/remote):
 * - `sign` and `attest` default to `--new-bundle-format=true` (the flag is deprecated: the bundle
 *   will be the only format): each writes one Sigstore bundle v0.3
 *   (`application/vnd.dev.sigstore.bundle.v0.3+json`, a DSSE envelope over an in-toto statement;
 *   `sign`'s predicate type is `https://sigstore.dev/cosign/sign/v1`) as an OCI 1.1 referrer: an
 *   image manifest with `artifactType` = the bundle media type, config = the empty descriptor
 *   (`application/vnd.oci.empty.v1+json`, blob `{}`), the bundle as its only layer, `subject` = the
 *   signed image, annotations `dev.sigstore.bundle.content: dsse-envelope`,
 *   `dev.sigstore.bundle.predicateType: <type>` and `org.opencontainers.image.created`. It is put by
 *   digest, untagged. On a registry without the referrers API (distribution 2.8) go-containerregistry
 *   also keeps the fallback index tagged `sha256-<hex of the subject digest>`.
 * - `--new-bundle-format=false` writes the legacy `sha256-<hex>.sig` / `.att` tags instead (with
 *   `--use-signing-config=false --tlog-upload=false` offline: see signLegacy).
 * - `verify` and `verify-attestation` look for bundles first (referrers API, else the fallback
 *   tag; any referrer whose single layer is a Sigstore bundle) and fall back to the legacy tags
 *   only when there is none; no flag is needed to read bundles.
 * - `tree` lists the legacy tags and, since `--experimental-oci11` defaults to true in v3 (the
 *   flag is deprecated), every referrer that has an `artifactType`, named by its
 *   `dev.sigstore.bundle.predicateType` annotation when it has one.
 */
import { generateKeyPairSync } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OFFLINE_ENV, run, signTool } from "./sign-tools.js"
import type { RunResult } from "./tools.js"

export const SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
export const SPDX_DOCUMENT_V2_3 = "https://spdx.dev/Document/v2.3"
export const COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
export const SIGSTORE_BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"

/** A cosign working directory: its HOME, key pair, offline signing config and trusted root. */
export interface Cosign {
  readonly dir: string
  /** The ECDSA P-256 key pair made with node:crypto: PKCS#8 and SPKI PEM files. */
  readonly pkcs8: string
  readonly publicKey: string
  /** The same key imported by `cosign import-key-pair` (empty password): cosign.key, cosign.pub. */
  readonly cosignKey: string
  readonly cosignPub: string
  /** `cosign signing-config create` with no services: nothing to upload to. */
  readonly signingConfig: string
  /** `cosign trusted-root create` with no services: no CA, log or TSA to trust. */
  readonly trustedRoot: string
  /** Runs cosign with the environment below. */
  run(args: string[]): Promise<RunResult>
}

/**
 * Makes the key pair, imports it, and writes the offline signing config and trusted root: once
 * per test file (beforeAll), about a second.
 */
export async function setUpCosign(): Promise<Cosign> {
  const cosign = signTool("cosign")
  const dir = mkdtempSync(join(tmpdir(), "cosign-"))
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    TUF_ROOT: join(dir, "tuf"),
    COSIGN_PASSWORD: "",
    COSIGN_YES: "true",
    ...OFFLINE_ENV,
  }
  const runCosign = (args: string[]) => run(cosign, args, env)
  const must = async (args: string[]) => {
    const result = await runCosign(args)
    if (result.status !== 0) throw new Error(`cosign ${args.join(" ")} failed (${result.status}): ${result.stderr}`)
    return result
  }

  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
  const pkcs8 = join(dir, "ec-p256.pem")
  const spki = join(dir, "ec-p256.pub.pem")
  writeFileSync(pkcs8, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 })
  writeFileSync(spki, publicKey.export({ type: "spki", format: "pem" }))
  await must(["import-key-pair", "--key", pkcs8, "--output-key-prefix", join(dir, "cosign")])

  const signingConfig = join(dir, "signing-config.json")
  const trustedRoot = join(dir, "trusted-root.json")
  await must(["signing-config", "create", "--out", signingConfig])
  await must(["trusted-root", "create", "--out", trustedRoot])

  return {
    dir,
    pkcs8,
    publicKey: spki,
    cosignKey: join(dir, "cosign.key"),
    cosignPub: join(dir, "cosign.pub"),
    signingConfig,
    trustedRoot,
    run: runCosign,
  }
}

const REGISTRY = ["--allow-http-registry"]

/** `cosign sign --key` of `image` (`host/repo@sha256:…`): one bundle referrer. */
export function sign(cosign: Cosign, image: string, extra: string[] = []): Promise<RunResult> {
  return cosign.run([
    "sign",
    "--key",
    cosign.cosignKey,
    "--signing-config",
    cosign.signingConfig,
    "--trusted-root",
    cosign.trustedRoot,
    ...REGISTRY,
    "--yes",
    ...extra,
    image,
  ])
}

/**
 * The legacy format: `cosign sign --key --new-bundle-format=false`, which writes the
 * `sha256-<hex>.sig` tag (simple signing payload, signature in a layer annotation). cosign v3
 * refuses it with a signing config, so it also takes `--use-signing-config=false
 * --tlog-upload=false` (both deprecated) and no `--signing-config`/`--trusted-root`.
 */
export function signLegacy(cosign: Cosign, image: string): Promise<RunResult> {
  return cosign.run([
    "sign",
    "--key",
    cosign.cosignKey,
    "--new-bundle-format=false",
    "--use-signing-config=false",
    "--tlog-upload=false",
    ...REGISTRY,
    "--yes",
    image,
  ])
}

/**
 * `cosign attest --key --type <type> --predicate <file>`: `type` is a cosign alias
 * (`slsaprovenance1`, `spdxjson`, …) or a predicate type URI (cosign maps `spdxjson` to
 * `https://spdx.dev/Document`, without the version, so pass SPDX_DOCUMENT_V2_3 for SPDX 2.3).
 */
export function attest(
  cosign: Cosign,
  image: string,
  type: string,
  predicate: object,
  extra: string[] = [],
): Promise<RunResult> {
  const file = join(mkdtempSync(join(cosign.dir, "predicate-")), "predicate.json")
  writeFileSync(file, JSON.stringify(predicate))
  return cosign.run([
    "attest",
    "--key",
    cosign.cosignKey,
    "--signing-config",
    cosign.signingConfig,
    "--trusted-root",
    cosign.trustedRoot,
    "--type",
    type,
    "--predicate",
    file,
    ...REGISTRY,
    "--yes",
    ...extra,
    image,
  ])
}

/** `cosign verify --key <public key>`, no transparency log: stdout is the JSON of what verified. */
export function verify(cosign: Cosign, image: string, extra: string[] = []): Promise<RunResult> {
  return cosign.run([
    "verify",
    "--key",
    cosign.cosignPub,
    "--trusted-root",
    cosign.trustedRoot,
    "--insecure-ignore-tlog",
    ...REGISTRY,
    ...extra,
    image,
  ])
}

/** `cosign verify-attestation --key <public key> --type <type>`: stdout, one DSSE envelope a line. */
export function verifyAttestation(
  cosign: Cosign,
  image: string,
  type: string,
  extra: string[] = [],
): Promise<RunResult> {
  return cosign.run([
    "verify-attestation",
    "--key",
    cosign.cosignPub,
    "--trusted-root",
    cosign.trustedRoot,
    "--insecure-ignore-tlog",
    "--type",
    type,
    ...REGISTRY,
    ...extra,
    image,
  ])
}

/** `cosign tree`: the legacy tags and the OCI 1.1 referrers of `image`. */
export function tree(cosign: Cosign, image: string, extra: string[] = []): Promise<RunResult> {
  return cosign.run(["tree", ...REGISTRY, ...extra, image])
}
