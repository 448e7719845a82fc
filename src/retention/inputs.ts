/** Retention's inputs: every argument of `retain` checked before any request, and a reviewed plan file read against them. */
import { check, InvalidArgumentError } from "../common/errors.js"
import { type Steps } from "../common/steps.js"
import { parseOwner, parseUsername } from "../common/names.js"
import { type GitHubClient, parseGitHubApiUrl, type RequestCounter } from "../github/client.js"
import { type PackageOwner } from "../github/packages.js"
import { type RegistryClient } from "../oci/client.js"
import { parseImageName, parseRegistry } from "../oci/reference.js"
import { type RetentionPolicy } from "./versions.js"
import { matchPlan, parsePlanFile, type PlanSection } from "./reviewed.js"

/** Checked arguments of `retain`. */
export interface RetainArgs {
  readonly owner: string
  /** The packages of this run, in order: `images` when given, else `[image]`. */
  readonly packages: readonly string[]
  /** True when `images` was given: the report has one section per package. */
  readonly several: boolean
  readonly policy: RetentionPolicy
  readonly dryRun: boolean
  readonly maxDeletions: number
  readonly maxRequests: number
  /** Requests of the token's hourly quota left to other workflows. */
  readonly quotaReserve: number
  readonly githubApiUrl: string
  readonly registry: { scheme: "http" | "https"; host: string }
  readonly registryUsername: string
  /** The module and token a failure's restore command names (the run's own). */
  readonly restoreWith: { readonly moduleRef?: string; readonly tokenUri?: string }
}

export interface RetainInput {
  owner: string
  image: string
  keep: number
  dryRun: boolean
  maxDeletions: number
  githubApiUrl: string
  registry: string
  graceMinutes: number
  registryUsername?: string
  maxRequests?: number
  quotaReserve?: number
  images?: readonly string[]
  /** The module the run was called as (`dagger call -m <ref>`), for the restore command a failure prints; empty: this release's. */
  moduleRef?: string
}

export function parseRetainArgs(args: RetainInput): RetainArgs {
  const count = (name: string, value: number, expected: string) =>
    check(Number.isInteger(value) && value >= 0, name, value, expected)
  count("keep", args.keep, "is not a count: expected a whole number of build images to keep, 0 or more (e.g. 30)")
  count("maxDeletions", args.maxDeletions, "is not a count: expected a whole number, 0 or more (e.g. 1000)")
  count("graceMinutes", args.graceMinutes, "is not a number of minutes: expected a whole number, 0 or more (e.g. 60)")
  count(
    "maxRequests",
    args.maxRequests ?? 0,
    "is not a request budget: expected a whole number of GitHub API requests, or 0 for no limit (e.g. 900)",
  )
  count(
    "quotaReserve",
    args.quotaReserve ?? 100,
    "is not a number of requests: expected a whole number of the token's hourly requests to leave to other workflows, 0 or more (e.g. 100)",
  )
  parseGitHubApiUrl(args.githubApiUrl)
  const owner = parseOwner(args.owner)
  const images = args.images ?? []
  // A function that deletes names its package: no default package.
  check(
    images.length > 0 || args.image !== "",
    "image",
    args.image,
    "is empty: retain deletes package versions, so it names its package; expected --image <package> (e.g. api-gateway) or --images a,b",
  )
  const packages =
    images.length > 0 ? images.map((image, i) => parseImageName(image, `images[${i}]`)) : [parseImageName(args.image)]
  const twice = packages.find((p, i) => packages.indexOf(p) !== i)
  if (twice)
    throw new InvalidArgumentError("images", images, `names ${JSON.stringify(twice)} twice: expected each package once`)
  return {
    owner,
    packages,
    several: images.length > 0,
    policy: { keep: args.keep, graceMinutes: args.graceMinutes },
    dryRun: args.dryRun,
    maxDeletions: args.maxDeletions,
    maxRequests: args.maxRequests ?? 0,
    quotaReserve: args.quotaReserve ?? 100,
    githubApiUrl: args.githubApiUrl,
    registry: parseRegistry(args.registry),
    registryUsername: args.registryUsername ? parseUsername(args.registryUsername, "registryUsername") : owner,
    restoreWith: {
      ...(args.moduleRef ? { moduleRef: parseModuleRef(args.moduleRef) } : {}),
    },
  }
}

/** Reads a plan file's text for this run: its sections, one per package, checked against the run. */
export function parseRetainPlan(text: string, args: RetainArgs): Map<string, PlanSection> {
  return matchPlan(parsePlanFile(text, "plan"), { owner: args.owner, packages: args.packages, policy: args.policy })
}

export interface RetentionRequest {
  readonly owner: string
  readonly packageName: string
  readonly policy: RetentionPolicy
  readonly dryRun: boolean
  readonly maxDeletions: number
  readonly now: Date
  /** A reviewed plan (`retain --plan`): delete only what it approves and today's plan still deletes. */
  readonly reviewed?: PlanSection
  /** At most this many GitHub API requests, counted on `counter` (0: no limit). */
  readonly maxRequests?: number
  /** The GitHub API the run used, for the restore command a failure prints (default: api.github.com). */
  readonly githubApiUrl?: string
  /** The module and the token (as its Secret's URI) the run used, for the restore command a failure prints. */
  readonly restoreWith?: { readonly moduleRef?: string; readonly tokenUri?: string }
  /** Requests of the token's hourly quota to leave to other workflows (at most a tenth of the quota; default 100). */
  readonly quotaReserve?: number
}

export interface RetentionDeps {
  readonly github: GitHubClient
  /** The registry client for the package's repository path. */
  readonly registry: RegistryClient
  /** `<owner>/<image>` in the registry. */
  readonly repository: string
  readonly log: (line: string) => void
  readonly manifestConcurrency?: number
  /** The owner, when already resolved (several packages of one owner in a run). */
  readonly owner?: PackageOwner
  /** Counts the GitHub client's requests; needed for `maxRequests`. */
  readonly counter?: RequestCounter
  /** Where the run's steps go (spans Dagger shows); a new one when absent. */
  readonly steps?: Steps
}

/** A module reference as `dagger call -m` takes it: `github.com/<owner>/<repo>[/<path>]@<version or commit>`, or a local path. */
export function parseModuleRef(value: string, argument = "moduleRef"): string {
  check(
    /^[A-Za-z0-9][A-Za-z0-9._/-]*(?:@[A-Za-z0-9._-]+)?$/.test(value) && value.length <= 300,
    argument,
    value,
    "is not a module reference: expected github.com/<owner>/<repo>@<version or commit> (the -m of dagger call, e.g. github.com/meetinity/meetinity-release@v0.4.0)",
  )
  return value
}

/** The run's arguments with the token's Secret URI, when it names only where the token came from (`env://NAME`, `file://path`). */
export function withTokenUri(args: RetainArgs, uri: string): RetainArgs {
  if (!/^(?:env|file):\/\/[A-Za-z0-9_./-]+$/.test(uri)) return args
  return { ...args, restoreWith: { ...args.restoreWith, tokenUri: uri } }
}
