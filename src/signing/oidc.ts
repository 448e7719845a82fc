/**
 * What an OIDC identity token says, read without the network: the JWT's payload decoded, never
 * its signature checked (Fulcio checks it when it issues the certificate). A token is a secret:
 * no message built here ever contains it, or any part of it.
 */
import { InvalidArgumentError } from "../common/errors.js"

/** The claims of a token's payload, as decoded JSON. */
export type OidcClaims = Readonly<Record<string, unknown>>

/** The argument errors name; the token itself is never quoted, only its shape. */
const ARGUMENT = "oidcToken"

/**
 * The payload claims of a JWT (`header.payload.signature`, base64url parts). Refuses anything
 * else, saying what is wrong with its shape without quoting it.
 */
export function decodeJwtClaims(token: string, argument = ARGUMENT): OidcClaims {
  const parts = token.trim().split(".")
  const shape = `a token of ${token.length} characters in ${parts.length} part(s)`
  if (parts.length !== 3 || !parts.every((part) => /^[A-Za-z0-9_-]+$/.test(part)))
    throw new InvalidArgumentError(
      argument,
      `<${shape}>`,
      "is not a JWT: expected three base64url parts separated by dots (an OIDC identity token for audience sigstore)",
    )
  let claims: unknown
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8"))
  } catch {
    claims = undefined
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims))
    throw new InvalidArgumentError(argument, `<${shape}>`, "is not a JWT: its payload is not a JSON object")
  return claims as OidcClaims
}

/** The identity a GitHub Actions OIDC token carries: what provenance's builder and run are made of. */
export interface GithubActionsIdentity {
  /** `https://token.actions.githubusercontent.com` (or a GHES issuer). */
  readonly issuer: string
  /** `https://github.com` (from the issuer's host for GHES, else github.com). */
  readonly serverUrl: string
  /** `meetinity/api-gateway` */
  readonly repository: string
  /** `refs/tags/release/v1.2.3` */
  readonly ref: string
  /** The commit the run is for, 40 hex. */
  readonly sha: string
  /** `meetinity/api-gateway/.github/workflows/cd.yml@refs/tags/release/v1.2.3` */
  readonly workflowRef: string
  /** The workflow that holds the job (differs from workflowRef for a reusable workflow): what Fulcio puts in the SAN. */
  readonly jobWorkflowRef: string
  readonly runId: string
  readonly runAttempt: string
  readonly eventName: string
  readonly repositoryId: string
  readonly repositoryOwnerId: string
  /** `github-hosted` or `self-hosted` */
  readonly runnerEnvironment: string
}

/**
 * The GitHub Actions claims of a token (decoded with decodeJwtClaims); refuses a token that lacks
 * one, naming the claim. `serverUrl` (the run's GITHUB_SERVER_URL) defaults to what the issuer
 * says: github.com for `token.actions.githubusercontent.com`, `https://<host>` for GHE.com
 * (`token.actions.<host>`) and GitHub Enterprise Server (`https://<host>/_services/token`).
 */
export function githubActionsIdentity(
  claims: OidcClaims,
  options: { readonly serverUrl?: string; readonly argument?: string } = {},
): GithubActionsIdentity {
  const argument = options.argument ?? ARGUMENT
  const text = (name: string): string => {
    const value = claims[name]
    if (typeof value !== "string" || value === "")
      throw new InvalidArgumentError(
        argument,
        `<a token without a ${name} claim>`,
        `is not a GitHub Actions OIDC token: its "${name}" claim is ${value === undefined ? "missing" : "not a non-empty string"} (request it with id-token: write and audience sigstore)`,
      )
    return value
  }
  const issuer = text("iss")
  const host =
    /^https:\/\/token\.actions\.([^/]+)$/.exec(issuer)?.[1] ?? /^https:\/\/([^/]+)\/_services\/token$/.exec(issuer)?.[1]
  const serverUrl =
    options.serverUrl?.replace(/\/+$/, "") ??
    (host === undefined || host === "githubusercontent.com" ? "https://github.com" : `https://${host}`)
  return {
    issuer,
    serverUrl,
    repository: text("repository"),
    ref: text("ref"),
    sha: text("sha"),
    workflowRef: text("workflow_ref"),
    jobWorkflowRef: text("job_workflow_ref"),
    runId: text("run_id"),
    runAttempt: text("run_attempt"),
    eventName: text("event_name"),
    repositoryId: text("repository_id"),
    repositoryOwnerId: text("repository_owner_id"),
    runnerEnvironment: text("runner_environment"),
  }
}

/**
 * The certificate identity Fulcio issues for a GitHub Actions token: the SAN URI
 * `https://github.com/<job_workflow_ref>`. What a keyless policy's identity pattern must match.
 */
export function githubCertificateIdentity(identity: GithubActionsIdentity): string {
  return `${identity.serverUrl}/${identity.jobWorkflowRef}`
}
