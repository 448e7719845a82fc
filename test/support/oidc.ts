/**
 * OIDC identity tokens for the signing tests: the claims GitHub Actions puts in an id-token for a
 * tag push of a service's cd.yml, an unsigned JWT of any claims (for code that only decodes), and
 * a test issuer (ES256, key made here) whose signed tokens the Fulcio stand-in accepts.
 */
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto"

/** The commit of the made-up release the tokens are for. */
export const COMMIT = "0123456789abcdef0123456789abcdef01234567"

/** A JWT with these claims (unsigned: only its payload is read). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url")
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.${Buffer.from("signature").toString("base64url")}`
}

/** The claims GitHub Actions puts in an id-token for a tag push of cd.yml. */
export const GITHUB_CLAIMS = {
  iss: "https://token.actions.githubusercontent.com",
  aud: "sigstore",
  sub: "repo:meetinity/api-gateway:ref:refs/tags/release/v1.2.3",
  repository: "meetinity/api-gateway",
  repository_id: "123456",
  repository_owner: "meetinity",
  repository_owner_id: "654321",
  ref: "refs/tags/release/v1.2.3",
  sha: COMMIT,
  workflow_ref: "meetinity/api-gateway/.github/workflows/cd.yml@refs/tags/release/v1.2.3",
  job_workflow_ref: "meetinity/api-gateway/.github/workflows/cd.yml@refs/tags/release/v1.2.3",
  run_id: "987",
  run_attempt: "2",
  event_name: "push",
  runner_environment: "github-hosted",
}

/** A test OIDC issuer: it mints ES256 JWTs the Fulcio stand-in accepts. */
export interface TestIssuer {
  readonly url: string
  readonly publicKey: KeyObject
  /** A signed token with these claims (plus iss, aud sigstore, iat, exp in ten minutes unless given). */
  token(claims: Record<string, unknown>): string
}

export function testIssuer(url = "https://token.actions.githubusercontent.com"): TestIssuer {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url")
  return {
    url,
    publicKey,
    token(claims) {
      const now = Math.floor(Date.now() / 1000)
      const body = `${part({ alg: "ES256", typ: "JWT", kid: "test" })}.${part({ iss: url, aud: "sigstore", iat: now, exp: now + 600, ...claims })}`
      const signature = sign("sha256", Buffer.from(body), { key: privateKey, dsaEncoding: "ieee-p1363" })
      return `${body}.${signature.toString("base64url")}`
    },
  }
}
