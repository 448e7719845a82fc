/**
 * The in-toto v1 statements publish signs about the digest pods pull: a signature statement as
 * cosign v3 makes it, SLSA build provenance v1 in the shape GitHub's attest-build-provenance uses,
 * and syft's SPDX 2.3 document as is. Pure: every function takes values and returns a statement.
 */
import { check } from "../common/errors.js"
import { parseReleaseRef } from "../common/version.js"
import { IN_TOTO_STATEMENT_V1, PREDICATE } from "./constants.js"
import { type GithubActionsIdentity } from "./oidc.js"

/** One subject of a statement: the image repository (`ghcr.io/meetinity/api-gateway`) and its digest. */
export interface Subject {
  readonly name?: string
  readonly digest: Readonly<Record<string, string>>
}

/** An in-toto statement (v1 when the module writes it). */
export interface Statement {
  readonly _type: string
  readonly subject: readonly Subject[]
  readonly predicateType: string
  readonly predicate: Readonly<Record<string, unknown>>
}

/** The subject of an image: the repository (without tag or scheme) and the manifest digest. */
export function imageSubject(repository: string, digest: string): Subject {
  check(/^sha256:[0-9a-f]{64}$/.test(digest), "digest", digest, "is not a manifest digest: expected sha256:<64 hex>")
  check(
    /^[a-z0-9.-]+(?::[0-9]+)?(?:\/[a-z0-9._-]+)+$/.test(repository),
    "repository",
    repository,
    "is not an image repository: expected <registry>/<owner>/<image> without tag or digest (e.g. ghcr.io/meetinity/api-gateway)",
  )
  return { name: repository, digest: { sha256: digest.slice("sha256:".length) } }
}

const statement = (subject: Subject, predicateType: string, predicate: Record<string, unknown>): Statement => ({
  _type: IN_TOTO_STATEMENT_V1,
  subject: [subject],
  predicateType,
  predicate,
})

/** The signature statement (`https://sigstore.dev/cosign/sign/v1`, empty predicate), as `cosign sign` v3 makes it. */
export function signatureStatement(repository: string, digest: string): Statement {
  return statement(imageSubject(repository, digest), PREDICATE.signature, {})
}

/** The SBOM statement: syft's SPDX 2.3 JSON document as the predicate, unchanged. */
export function sbomStatement(repository: string, digest: string, spdx: unknown): Statement {
  const version = (spdx as { spdxVersion?: unknown } | null)?.spdxVersion
  check(
    typeof spdx === "object" && spdx !== null && !Array.isArray(spdx) && version === "SPDX-2.3",
    "sbom",
    typeof spdx === "object" && spdx !== null ? { spdxVersion: version } : spdx,
    'is not an SPDX 2.3 JSON document: expected an object with "spdxVersion": "SPDX-2.3" (syft -o spdx-json)',
  )
  return statement(imageSubject(repository, digest), PREDICATE.sbom, spdx as Record<string, unknown>)
}

/** The bytes signed: the statement as JSON. */
export function statementBytes(value: Statement): Buffer {
  return Buffer.from(JSON.stringify(value))
}

/** The build type of provenance the module writes: a publish of a Dockerfile by this module. */
export const PUBLISH_BUILD_TYPE = "https://github.com/meetinity/meetinity-release/buildtypes/publish/v1"

/** Builder id outside GitHub Actions (a laptop, a rehearsal) unless one is given. */
export const MODULE_BUILDER_ID = "https://github.com/meetinity/meetinity-release"

/** What was built, from publish's plan: never a build argument's value, only its name. */
export interface BuildFacts {
  /** `refs/tags/release/v1.2.3` (`release/v1.2.3` is read as that tag). */
  readonly ref: string
  /** The commit built: 40 hex (7 to 40 accepted; provenance records what it is given). */
  readonly commit: string
  /** The source repository's URL, `https://github.com/meetinity/api-gateway`, when known. */
  readonly sourceRepository?: string
  readonly dockerfile: string
  /** `linux/amd64`, ... */
  readonly platforms: readonly string[]
  /** Build argument NAMES only (`--build-arg NAME=value` -> `NAME`). */
  readonly buildArgNames: readonly string[]
  /** Base images by digest: the reference as the Dockerfile names it and the digest it resolved to. */
  readonly baseImages?: readonly { readonly reference: string; readonly digest: string }[]
}

/** The parts of publish's plan provenance reads (a `PublishPlan` is one). */
export interface PlannedBuild {
  readonly version: { readonly tag: string }
  readonly sha: string
  readonly dockerfile: string
  readonly platforms: readonly string[]
  readonly buildArgs: readonly { readonly name: string; readonly value: string }[]
  readonly labels: Readonly<Record<string, string>>
}

/**
 * The build facts of a planned publish: the release tag's ref, the commit, the source repository
 * from the `org.opencontainers.image.source` label, and the build arguments' names (their values,
 * which may be secrets, are dropped here).
 */
export function buildFactsOf(plan: PlannedBuild, baseImages: BuildFacts["baseImages"] = []): BuildFacts {
  const source = plan.labels["org.opencontainers.image.source"]
  return {
    ref: `refs/tags/release/${plan.version.tag}`,
    commit: plan.sha,
    ...(source ? { sourceRepository: source } : {}),
    dockerfile: plan.dockerfile,
    platforms: [...plan.platforms],
    buildArgNames: plan.buildArgs.map((arg) => arg.name),
    baseImages,
  }
}

/** Who built it and which run: from the OIDC token in Actions (runFromGithub), else given. */
export interface BuildRun {
  readonly builderId: string
  readonly invocationId?: string
  readonly startedOn?: string
  readonly finishedOn?: string
  /** GitHub Actions: the workflow as GitHub's provenance names it. */
  readonly workflow?: { readonly ref: string; readonly repository: string; readonly path: string }
  readonly github?: {
    readonly event_name: string
    readonly repository_id: string
    readonly repository_owner_id: string
    readonly runner_environment: string
  }
}

/** The run of a GitHub Actions job, in the shape GitHub's attest-build-provenance writes it. */
export function runFromGithub(
  identity: GithubActionsIdentity,
  times: { startedOn?: string; finishedOn?: string } = {},
): BuildRun {
  const at = identity.workflowRef.indexOf("@")
  const workflowPath = identity.workflowRef.slice(0, at < 0 ? undefined : at).replace(`${identity.repository}/`, "")
  return {
    builderId: `https://github.com/actions/runner/${identity.runnerEnvironment}`,
    invocationId: `${identity.serverUrl}/${identity.repository}/actions/runs/${identity.runId}/attempts/${identity.runAttempt}`,
    ...times,
    workflow: {
      ref: at < 0 ? identity.ref : identity.workflowRef.slice(at + 1),
      repository: `${identity.serverUrl}/${identity.repository}`,
      path: workflowPath,
    },
    github: {
      event_name: identity.eventName,
      repository_id: identity.repositoryId,
      repository_owner_id: identity.repositoryOwnerId,
      runner_environment: identity.runnerEnvironment,
    },
  }
}

/** `release/v1.2.3` -> `refs/tags/release/v1.2.3`; a full `refs/...` ref stays. */
export function fullRef(ref: string): string {
  return ref.startsWith("refs/") ? ref : `refs/tags/${ref}`
}

/** `pkg:docker/<name>@<tag>` of a base image reference (BuildKit's provenance names them so). */
export function baseImageUri(reference: string): string {
  const withoutDigest = reference.replace(/@sha256:[0-9a-f]{64}$/, "")
  const tag = /:([^/:]+)$/.exec(withoutDigest)?.[1]
  const name = tag === undefined ? withoutDigest : withoutDigest.slice(0, -(tag.length + 1))
  return `pkg:docker/${name}@${tag ?? "latest"}`
}

/** The SLSA provenance v1 predicate of a publish. */
export function provenancePredicate(facts: BuildFacts, run: BuildRun): Record<string, unknown> {
  check(/^[0-9a-f]{7,40}$/.test(facts.commit), "commit", facts.commit, "is not a commit SHA: expected 7 to 40 hex")
  parseReleaseRef(facts.ref, "ref")
  const ref = fullRef(facts.ref)
  const source = facts.sourceRepository?.replace(/\/+$/, "")
  const externalParameters: Record<string, unknown> = {
    ...(run.workflow ? { workflow: run.workflow } : {}),
    ...(source ? { repository: source } : {}),
    ref,
    commit: facts.commit,
    dockerfile: facts.dockerfile,
    platforms: [...facts.platforms],
    buildArgs: [...facts.buildArgNames],
  }
  const resolvedDependencies = [
    source
      ? { uri: `git+${source}@${ref}`, digest: { gitCommit: facts.commit } }
      : { name: "source", digest: { gitCommit: facts.commit }, annotations: { ref } },
    ...(facts.baseImages ?? []).map((base) => {
      check(/^sha256:[0-9a-f]{64}$/.test(base.digest), "baseImages", base, "has no digest: expected sha256:<64 hex>")
      return { uri: baseImageUri(base.reference), digest: { sha256: base.digest.slice("sha256:".length) } }
    }),
  ]
  const metadata = {
    ...(run.invocationId ? { invocationId: run.invocationId } : {}),
    ...(run.startedOn ? { startedOn: run.startedOn } : {}),
    ...(run.finishedOn ? { finishedOn: run.finishedOn } : {}),
  }
  return {
    buildDefinition: {
      buildType: PUBLISH_BUILD_TYPE,
      externalParameters,
      ...(run.github ? { internalParameters: { github: run.github } } : {}),
      resolvedDependencies,
    },
    runDetails: { builder: { id: run.builderId }, ...(Object.keys(metadata).length > 0 ? { metadata } : {}) },
  }
}

/** The provenance statement of a publish. */
export function provenanceStatement(repository: string, digest: string, facts: BuildFacts, run: BuildRun): Statement {
  return statement(imageSubject(repository, digest), PREDICATE.provenance, provenancePredicate(facts, run))
}

/**
 * The base images a Dockerfile names (`FROM <image> [AS <stage>]`), in order, without stages it
 * defines, `scratch` or references built from build arguments (`$BASE`): the images whose
 * digests the lead resolves for provenance's resolvedDependencies.
 */
export function dockerfileBaseImages(dockerfile: string): string[] {
  const stages = new Set<string>()
  const images: string[] = []
  const lines = dockerfile.replace(/\\\r?\n/g, " ").split(/\r?\n/)
  for (const line of lines) {
    const match = /^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$/i.exec(line)
    if (!match) continue
    const image = match[1]!
    if (!stages.has(image.toLowerCase()) && image !== "scratch" && !image.includes("$") && !images.includes(image))
      images.push(image)
    if (match[2]) stages.add(match[2].toLowerCase())
  }
  return images
}
