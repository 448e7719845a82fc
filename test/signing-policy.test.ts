/**
 * Verification policies parsed from strings, key material refused without being quoted, and the
 * identity policy checked against two real bundles recorded from Sigstore's public-good instance,
 * verified offline with the trusted root @sigstore/tuf ships.
 */
import { generateKeyPairSync } from "node:crypto"
import { bundleFromJSON } from "@sigstore/bundle"
import { toSignedEntity } from "@sigstore/verify"
import { describe, expect, test } from "vitest"
import { checkBundle } from "../src/signing/bundle.js"
import { PREDICATE } from "../src/signing/constants.js"
import { anchoredIdentity, exactPattern, parseVerificationPolicy } from "../src/signing/policy.js"
import { keylessSigner, keySigner } from "../src/signing/sign.js"
import { keyTrust, rootTrust, shippedPublicGoodRoot } from "../src/signing/trust.js"
import { fakeJwt, GITHUB_CLAIMS } from "./support/oidc.js"
import {
  RECORDED_DSSE_BUNDLE,
  RECORDED_IDENTITY,
  RECORDED_INTOTO_BUNDLE,
  RECORDED_ISSUER,
} from "./support/public-good.js"

const ec = (namedCurve: string) => generateKeyPairSync("ec", { namedCurve })
const P256 = ec("prime256v1")
const publicPem = P256.publicKey.export({ type: "spki", format: "pem" }).toString()

describe("a verification policy from strings", () => {
  test("off, key and keyless; signature and provenance are required unless said otherwise", () => {
    expect(parseVerificationPolicy({ verify: "off" })).toEqual({ mode: "off" })
    const key = parseVerificationPolicy({ verify: "key", publicKey: publicPem })
    expect(key).toMatchObject({ mode: "key", require: [PREDICATE.signature, PREDICATE.provenance] })
    const keyless = parseVerificationPolicy({
      verify: "keyless",
      issuer: "https://token.actions.githubusercontent.com",
      identity: "https://github\\.com/meetinity/api-gateway/\\.github/workflows/cd\\.yml@refs/tags/release/v.*",
      require: ["signature,sbom", "https://example.com/predicate/v1"],
    })
    expect(keyless).toMatchObject({
      mode: "keyless",
      require: [PREDICATE.signature, PREDICATE.sbom, "https://example.com/predicate/v1"],
    })
    expect(keyless).not.toHaveProperty("trustedRoot")
  })

  const p384 = ec("secp384r1").publicKey.export({ type: "spki", format: "pem" }).toString()
  const keyless = { verify: "keyless", issuer: "https://i.example", identity: "x" }
  test.each([
    ["an unknown mode", { verify: "yes" }, 'verify "yes" is not a verification mode: expected off, key'],
    ["key without a key", { verify: "key" }, 'verifyKey "" is empty: key verification needs the PEM public key'],
    [
      "key with an issuer",
      { verify: "key", publicKey: publicPem, issuer: "https://x.example" },
      'verifyIssuer "https://x.example" is given with --verify key: it is for keyless verification only',
    ],
    [
      "an SSH key",
      { verify: "key", publicKey: "ssh-ed25519 AAAA" },
      'verifyKey "ssh-ed25519 AAAA" is not a PEM public key',
    ],
    [
      "a P-384 key",
      { verify: "key", publicKey: p384 },
      'verifyKey "<a ec public key>" is not an ECDSA P-256 public key',
    ],
    [
      "an unknown predicate",
      { verify: "key", publicKey: publicPem, require: ["slsa"] },
      'requirePredicates "slsa" is not a predicate type',
    ],
    [
      "an issuer that is no URL",
      { ...keyless, issuer: "token.actions" },
      'verifyIssuer "token.actions" is not an OIDC issuer',
    ],
    ["an identity that is no pattern", { ...keyless, identity: "(" }, 'verifyIdentity "(" is not a regular expression'],
    ["an identity matching anything", { ...keyless, identity: ".*" }, 'verifyIdentity ".*" matches any identity'],
    [
      "an identity matching any GitHub workflow",
      { ...keyless, identity: "https://github\\.com/.*" },
      'verifyIdentity "https://github\\\\.com/.*" matches any identity',
    ],
    [
      "keyless with a key",
      { ...keyless, publicKey: publicPem },
      'verifyKey "<a public key>" is given with --verify keyless',
    ],
    [
      "a trusted root that is not one",
      { ...keyless, trustedRoot: "{}" },
      'trustedRoot "{}" is not a Sigstore trusted root',
    ],
  ])("%s is refused, naming the argument", (_, args, message) => {
    expect(() => parseVerificationPolicy(args)).toThrow(message)
  })

  test("identity patterns are anchored: the whole identity must match", () => {
    const identity = anchoredIdentity("https://github\\.com/meetinity/api-gateway/\\.github/workflows/cd\\.yml@refs/.*")
    expect(
      identity.test("https://github.com/meetinity/api-gateway/.github/workflows/cd.yml@refs/tags/release/v1"),
    ).toBe(true)
    expect(
      identity.test("https://evil.example/https://github.com/meetinity/api-gateway/.github/workflows/cd.yml@refs/x"),
    ).toBe(false)
    expect(anchoredIdentity(exactPattern("a.b@c")).test("aXb@c")).toBe(false)
  })
})

describe("key material is refused without being quoted", () => {
  const pkcs8 = (key: ReturnType<typeof ec>["privateKey"]) => key.export({ type: "pkcs8", format: "pem" }).toString()
  const body = (pem: string) => pem.split("\n")[1]!

  test.each([
    [
      "an RSA key",
      pkcs8(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey),
      '"<a rsa private key>" is not an ECDSA P-256 key',
    ],
    ["a P-384 key", pkcs8(ec("secp384r1").privateKey), '"<a ec secp384r1 private key>" is not an ECDSA P-256 key'],
    [
      "an encrypted key",
      P256.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "p" }).toString(),
      "is an encrypted private key",
    ],
    ["no PEM at all", "not a key at all, but a secret", '"<30 characters, no PEM block>" is not a PEM private key'],
  ])("%s", (_, pem, message) => {
    try {
      keySigner(pem)
      expect.unreachable()
    } catch (error) {
      expect((error as Error).message).toMatch(/^signingKey "/)
      expect((error as Error).message).toContain(message)
      if (pem.includes("\n")) expect((error as Error).message).not.toContain(body(pem).slice(0, 20))
      expect((error as Error).message).not.toContain("a secret")
    }
  })

  test("a P-256 key in PKCS#8 or SEC1 is taken", () => {
    expect(keySigner(pkcs8(P256.privateKey)).identity.kind).toBe("key")
    expect(keySigner(P256.privateKey.export({ type: "sec1", format: "pem" }).toString()).identity.kind).toBe("key")
  })

  test("keyless needs a witness, and a token that is a JWT", () => {
    const token = fakeJwt(GITHUB_CLAIMS)
    expect(() => keylessSigner({ oidcToken: token, fulcioUrl: "https://fulcio.example" })).toThrow(
      'rekorUrl "" is empty and so is timestampUrl: keyless signing needs a transparency log or a timestamp authority',
    )
    expect(() =>
      keylessSigner({ oidcToken: "s3cr3t", fulcioUrl: "https://f.example", rekorUrl: "https://r.example" }),
    ).toThrow('oidcToken "<a token of 6 characters in 1 part(s)>" is not a JWT')
    const signer = keylessSigner({ oidcToken: token, fulcioUrl: "https://f.example", rekorUrl: "https://r.example" })
    expect(signer.identity).toEqual({
      kind: "keyless",
      issuer: "https://token.actions.githubusercontent.com",
      identity: "https://github.com/meetinity/api-gateway/.github/workflows/cd.yml@refs/tags/release/v1.2.3",
    })
  })
})

describe("recorded public-good bundles, offline against the trusted root @sigstore/tuf ships", () => {
  const trust = rootTrust(shippedPublicGoodRoot())
  const rule = (pattern: string, issuer = RECORDED_ISSUER) => ({ issuer, identity: anchoredIdentity(pattern), pattern })
  const bytes = (bundle: object) => Buffer.from(JSON.stringify(bundle))

  test.each([
    ["a dsse log entry", RECORDED_DSSE_BUNDLE],
    ["an intoto log entry", RECORDED_INTOTO_BUNDLE],
  ])("with %s: the exact identity passes; a prefix, a suffix and another issuer do not", (_, bundle) => {
    const passed = checkBundle(bytes(bundle), trust, rule(exactPattern(RECORDED_IDENTITY)))
    expect(passed).toMatchObject({ verdict: "verified", signer: `${RECORDED_IDENTITY} (issuer ${RECORDED_ISSUER})` })
    expect(passed.statement?.subject[0]?.name).toBe("pkg:npm/sigstore@1.0.0")

    const entity = toSignedEntity(bundleFromJSON(bundle))
    for (const lookalike of ["brian@dehamer\\.co", "dehamer\\.com"]) {
      // sigstore-js's own policy matches the SAN unanchored: it lets both through.
      expect(() => trust.verifier.verify(entity, { subjectAlternativeName: lookalike })).not.toThrow()
      expect(checkBundle(bytes(bundle), trust, rule(lookalike))).toMatchObject({
        verdict: "other-identity",
        detail: `signed by ${RECORDED_IDENTITY} (issuer ${RECORDED_ISSUER}), wanted ${lookalike} (issuer ${RECORDED_ISSUER})`,
      })
    }
    expect(
      checkBundle(bytes(bundle), trust, rule(exactPattern(RECORDED_IDENTITY), "https://accounts.google.com")).verdict,
    ).toBe("other-identity")
  })

  test("its payload altered: the log entry no longer matches it", () => {
    const altered = structuredClone(RECORDED_DSSE_BUNDLE)
    const payload = Buffer.from(altered.dsseEnvelope.payload, "base64").toString().replace("1.0.0", "6.6.6")
    altered.dsseEnvelope.payload = Buffer.from(payload).toString("base64")
    const check = checkBundle(bytes(altered), trust, rule(exactPattern(RECORDED_IDENTITY)))
    expect(check.verdict).toBe("tampered")
    expect(check.detail).toContain("TLOG_BODY_ERROR")
  })

  test("a key policy does not accept a keyless bundle", () => {
    const check = checkBundle(bytes(RECORDED_DSSE_BUNDLE), keyTrust(P256.publicKey))
    expect(check.verdict).toBe("other-key")
    expect(check.detail).toBe(
      `signed keyless by ${RECORDED_IDENTITY} (issuer ${RECORDED_ISSUER}), not by key ${keyTrust(P256.publicKey).keyHint}`,
    )
  })
})
