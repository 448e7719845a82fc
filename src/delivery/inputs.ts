/**
 * Delivery's inputs: every argument of a pull-secret refresh and of a Helm deploy checked, before
 * any container runs, into their typed plans.
 */
import { type Secret } from "@dagger.io/dagger"

import { check } from "../common/errors.js"
import { checkNoUserInfo, checkPort, parseUsername } from "../common/names.js"
import { parseVersionTag } from "../common/version.js"
import { DEFAULT_IMAGE_VALUES, parseImageValues, parseSetValues, parseValuesFiles } from "./values.js"
import { parsePlatform, type Platform } from "../oci/platform.js"
import { parseImageLocation } from "../oci/reference.js"

/** The namespaces a release rolls through, in order. */
export const DEFAULT_NAMESPACES = ["meetinity-dev", "meetinity-staging", "meetinity-prod"]

const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/

const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/

/** A Kubernetes namespace: a DNS-1123 label (lower-case letters, digits, '-', at most 63). */
export function parseNamespace(value: string, argument = "namespace"): string {
  check(
    DNS_LABEL.test(value),
    argument,
    value,
    "is not a Kubernetes namespace: expected a DNS-1123 label, lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (e.g. meetinity-dev)",
  )
  return value
}

/** An ordered list of distinct namespaces, at least one. */
export function parseNamespaces(values: readonly string[], argument = "namespaces"): string[] {
  check(
    values.length > 0,
    argument,
    values,
    "is empty: expected at least one namespace (e.g. meetinity-dev,meetinity-staging,meetinity-prod)",
  )
  const seen = new Set<string>()
  for (const value of values) {
    parseNamespace(value, argument)
    check(!seen.has(value), argument, value, "is listed twice: expected each namespace once, in rollout order")
    seen.add(value)
  }
  return [...values]
}

/** A Kubernetes object name (Secret): a DNS-1123 subdomain. */
export function parseObjectName(value: string, argument = "name"): string {
  check(
    DNS_SUBDOMAIN.test(value),
    argument,
    value,
    "is not a Kubernetes object name: expected a DNS-1123 subdomain, lower-case letters, digits, '-' and '.', at most 253 characters (e.g. ghcr-pull-secret)",
  )
  return value
}

/** A Helm release name: a DNS-1123 label of at most 53 characters (Helm's own limit). */
export function parseReleaseName(value: string, argument = "release"): string {
  check(
    DNS_LABEL.test(value) && value.length <= 53,
    argument,
    value,
    "is not a Helm release name: expected lower-case letters, digits and '-', starting and ending with a letter or digit, at most 53 characters (e.g. meetinity)",
  )
  return value
}

/** The registry server a pull secret is for: `ghcr.io`, `host:port`, or a URL. */
export function parseServer(value: string, argument = "server"): string {
  checkNoUserInfo(value, argument)
  checkPort(/^(?:https?:\/\/)?([^/]*)/.exec(value)![1]!, value, argument)
  check(
    /^(?:https?:\/\/)?[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:\/\S*)?$/.test(value),
    argument,
    value,
    "is not a registry server: expected a host with an optional port (e.g. ghcr.io)",
  )
  return value
}

/** A Go duration as Helm's --timeout takes it: `10m`, `90s`, `1h30m`. */
export function parseTimeout(value: string, argument = "timeout"): string {
  check(
    /^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+$/.test(value) && !/^0+(?:\.0+)?[a-zµ]+$/.test(value),
    argument,
    value,
    "is not a duration: expected a positive Go duration such as 10m, 90s or 1h30m",
  )
  const seconds = durationSeconds(value)
  check(
    seconds <= MAX_TIMEOUT_HOURS * 3600,
    argument,
    value,
    `is longer than a deploy may wait: expected a duration of at most ${MAX_TIMEOUT_HOURS}h (a GitHub job stops after 6h; e.g. 10m)`,
  )
  return value
}

/** How long a deploy may wait for its rollout, at most. */
export const MAX_TIMEOUT_HOURS = 24

/** The seconds in a Go duration such as `1h30m` or `1.5s` (already checked for its form). */
function durationSeconds(value: string): number {
  const unit: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 }
  let total = 0
  for (const [, amount, name] of value.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g))
    total += Number(amount) * unit[name!]!
  return total
}

/** Checked arguments of a pull-secret refresh (everything but the secrets themselves). */
export interface PullSecretPlan {
  readonly namespace: string
  readonly name: string
  readonly server: string
  readonly username: string
}

export function planPullSecret(
  args: { namespace: string; name: string; server: string; username: string },
  names: { username?: string; name?: string } = {},
): PullSecretPlan {
  return {
    namespace: parseNamespace(args.namespace),
    name: parseObjectName(args.name, names.name ?? "pullSecretName"),
    server: parseServer(args.server),
    username: parseUsername(args.username, names.username ?? "username"),
  }
}

/** Checked arguments of a Helm deploy. */
export interface HelmPlan {
  readonly release: string
  readonly namespace: string
  /** What pods pull, without a scheme. */
  readonly image: string
  /** How the preflight reaches the registry, when --image said so. */
  readonly imageScheme?: "http" | "https"
  readonly version: string
  readonly pullSecretName: string
  readonly timeout: string
  readonly historyMax: number
  readonly set: string[]
  /** Values files inside the chart, as given (the per-namespace one is added when the chart has it). */
  readonly values: string[]
  /** The platform the cluster's nodes run; the image must have a manifest for it. */
  readonly platform: Platform
  /** Deploy even when the namespace runs a newer version (a deliberate rollback). */
  readonly allowDowngrade: boolean
  /** Deploy even when it removes objects another service (another subchart) runs; the report lists them. */
  readonly allowRemoval: boolean
  /** Where this service's image goes in the chart's values (`global.image`, `api-gateway.image`). */
  readonly imageValues: string
}

export interface HelmArgs {
  release: string
  namespace: string
  image: string
  version: string
  pullSecretName: string
  timeout: string
  set: string[]
  historyMax?: number
  values?: string[]
  platform?: string
  allowDowngrade?: boolean
  allowRemoval?: boolean
  imageValues?: string
}

export function planHelm(args: HelmArgs, names: { release?: string } = { release: "helmRelease" }): HelmPlan {
  const historyMax = args.historyMax ?? 10
  check(
    Number.isInteger(historyMax) && historyMax >= 0,
    "historyMax",
    historyMax,
    "is not a revision count: expected a whole number, 0 for no limit",
  )
  const image = parseImageLocation(args.image)
  const imageValues = parseImageValues(args.imageValues ?? DEFAULT_IMAGE_VALUES)
  return {
    release: parseReleaseName(args.release, names.release ?? "release"),
    namespace: parseNamespace(args.namespace),
    image: image.address,
    ...(image.scheme ? { imageScheme: image.scheme } : {}),
    version: parseVersionTag(args.version).tag,
    pullSecretName: parseObjectName(args.pullSecretName, "pullSecretName"),
    timeout: parseTimeout(args.timeout),
    historyMax,
    set: parseSetValues(args.set, imageValues),
    values: parseValuesFiles(args.values ?? []),
    platform: parsePlatform(args.platform ?? "linux/amd64"),
    allowDowngrade: args.allowDowngrade ?? false,
    allowRemoval: args.allowRemoval ?? false,
    imageValues,
  }
}

/** The registry user a deploy reads the image as, and its token (still a Dagger Secret). */
export interface Reader {
  readonly username: string
  readonly token: Secret
}

/**
 * Reader credentials come as a pair: a user name and a token, or neither (anonymous, for a
 * public package). Returns the pair, or undefined for anonymous.
 */
export function parseReaderCredentials(
  readerUsername: string,
  token: Secret | undefined,
  names = { username: "readerUsername", token: "readerToken" },
): Reader | undefined {
  if (readerUsername === "" && token === undefined) return undefined
  check(
    token !== undefined,
    names.token,
    null,
    `is missing: --${kebab(names.username)} ${JSON.stringify(readerUsername)} was given without a token; pass both (or neither, for a public package)`,
  )
  return { username: parseUsername(readerUsername, names.username), token: token! }
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
