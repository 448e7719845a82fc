/**
 * Chart references as Helm writes them: `oci://<host>[:port]/<path>:<version>`, pinned or not by
 * `@sha256:<digest>` (`oci://ghcr.io/meetinity/charts/meetinity:0.2.0@sha256:…`), and chart
 * versions (SemVer 2, as Chart.yaml has them: `0.2.0`, no `v`). Pure: strings in, typed values out.
 *
 * Only `oci://` is taken: `http://` or `https://` before the host is refused. As for images
 * (oci/reference.ts `endpointOf`), the registry is reached over plain HTTP on `localhost` and
 * `127.0.0.1` only, over HTTPS everywhere else (Helm needs `--plain-http` for that; the module
 * decides from the host, as it does for images).
 */
import semver from "semver"

import { check } from "../common/errors.js"
import { checkNoUserInfo, LIMITS, parseOwner } from "../common/names.js"
import { type RegistryEndpoint } from "../oci/manifest.js"
import { endpointOf, parseImageName, parseRegistry } from "../oci/reference.js"

/** A chart in a registry: where, which version (the tag), which manifest (the digest). */
export interface ChartReference {
  /** The registry host (and port), lower-case: `ghcr.io`, `127.0.0.1:5000`. */
  readonly host: string
  /** The repository path inside the registry: `meetinity/charts/meetinity`. */
  readonly repository: string
  /** The chart's name: the last part of the path (Helm pushes a chart as `<path>/<name>:<version>`). */
  readonly name: string
  /** The chart version, SemVer 2 as in Chart.yaml (`0.2.0`, `1.0.0+build.1`). */
  readonly version?: string
  /** The manifest digest the reference is pinned to. */
  readonly digest?: string
  /** How to reach the registry: http for localhost and 127.0.0.1, https elsewhere. */
  readonly endpoint: RegistryEndpoint
}

const EXPECTED_REFERENCE =
  "is not a chart reference: expected oci://<registry>/<path>/<chart>:<version>, optionally pinned with @sha256:<64 hex digits> (e.g. oci://ghcr.io/meetinity/charts/meetinity:0.2.0)"

/**
 * Reads a chart reference argument. A version, a digest or both must be given: a chart by
 * reference is never "whatever the registry has". The version is a SemVer 2 version (Helm's `+`
 * may be written `_`, as the tag has it).
 */
export function parseChartReference(value: string, argument = "chartRef"): ChartReference {
  checkNoUserInfo(value, argument)
  check(
    !/^https?:\/\//i.test(value),
    argument,
    value,
    `${EXPECTED_REFERENCE}: a chart reference starts with oci:// (Helm's form), not http:// or https://; plain HTTP is used for localhost and 127.0.0.1 only`,
  )
  check(value.startsWith("oci://"), argument, value, EXPECTED_REFERENCE)
  const rest = value.slice("oci://".length)
  const at = rest.indexOf("@")
  const digest = at >= 0 ? rest.slice(at + 1) : undefined
  const named = at >= 0 ? rest.slice(0, at) : rest
  check(
    digest === undefined || /^sha256:[0-9a-f]{64}$/.test(digest),
    argument,
    value,
    "has a digest that is not sha256: followed by 64 lower-case hex digits (what publishChart printed after the @)",
  )
  const slash = named.indexOf("/")
  check(slash > 0, argument, value, `${EXPECTED_REFERENCE}: it names no path after the registry`)
  const hostPart = named.slice(0, slash)
  const pathAndTag = named.slice(slash + 1)
  const colon = pathAndTag.lastIndexOf(":")
  const path = colon >= 0 ? pathAndTag.slice(0, colon) : pathAndTag
  const tag = colon >= 0 ? pathAndTag.slice(colon + 1) : undefined
  const { host } = parseRegistry(hostPart, argument)
  check(
    path !== "" && !path.includes(":"),
    argument,
    value,
    `${EXPECTED_REFERENCE}: the path between the registry and the version is empty or has a ':'`,
  )
  parseImageName(path, argument)
  check(
    `${host}/${path}`.length <= LIMITS.repository,
    argument,
    value,
    `is too long: <registry>/<path> is ${host.length + 1 + path.length} characters, and references allow at most ${LIMITS.repository}`,
  )
  const version = tag === undefined ? undefined : parseChartVersion(tag.replace(/_/g, "+"), argument, value)
  check(
    version !== undefined || digest !== undefined,
    argument,
    value,
    `names no version and no digest: expected :<version> (e.g. ${value}:0.2.0), @sha256:<digest>, or both`,
  )
  return {
    host,
    repository: path,
    name: path.slice(path.lastIndexOf("/") + 1),
    ...(version !== undefined ? { version } : {}),
    ...(digest !== undefined ? { digest } : {}),
    endpoint: endpointOf(host),
  }
}

/**
 * A chart version as Chart.yaml gives it: strict SemVer 2 (`0.2.0`, `1.0.0-rc.1`, `1.0.0+build.5`),
 * no `v` (Helm's looser reading, which takes `v1.2` too, is not accepted: such a version is
 * not the same tag for every tool).
 */
export function parseChartVersion(value: string, argument = "version", shown: string = value): string {
  check(
    value.length <= LIMITS.tag,
    argument,
    shown,
    `is too long: the version is ${value.length} characters, and a tag is at most ${LIMITS.tag}`,
  )
  const hint = /^v\d/.test(value) && isSemver(value.slice(1)) ? `; chart versions have no v: ${value.slice(1)}` : ""
  check(
    isSemver(value),
    argument,
    shown,
    `has version ${JSON.stringify(value)}, which is not a chart version: expected SemVer 2, MAJOR.MINOR.PATCH with an optional -prerelease and +build (e.g. 0.2.0, 1.0.0-rc.1)${hint}`,
  )
  return value
}

/** Strict SemVer 2, written exactly as the spec writes it (no `v`, no `=`, no spaces). */
function isSemver(value: string): boolean {
  const parsed = semver.parse(value)
  const build = parsed && parsed.build.length > 0 ? `+${parsed.build.join(".")}` : ""
  return parsed !== null && `${parsed.version}${build}` === value
}

/**
 * Is this tag a chart version as Helm writes it (`0.2.0`, `1.0.0-rc.1`, `1.0.0_build.5` for
 * `1.0.0+build.5`)? For retention, which keeps every version of a chart.
 */
export const isChartVersionTag = (tag: string): boolean => tag.length <= LIMITS.tag && isSemver(tag.replace(/_/g, "+"))

/** The OCI tag of a chart version: Helm writes `+` as `_`, which tags allow. */
export const chartTag = (version: string): string => version.replace(/\+/g, "_")

/** `oci://<host>/<repository>[:<version>][@<digest>]`: the reference as a person (and Helm) reads it. */
export function formatChartReference(ref: {
  readonly host: string
  readonly repository: string
  readonly version?: string
  readonly digest?: string
}): string {
  return `oci://${ref.host}/${ref.repository}${ref.version !== undefined ? `:${ref.version}` : ""}${ref.digest ? `@${ref.digest}` : ""}`
}

/**
 * Where a chart is published: `<owner>/charts/<name>` under the registry, as the issue's
 * `oci://ghcr.io/<org>/charts/meetinity` has it. The owner is lower-cased, as registries require.
 */
export function chartRepository(owner: string, name: string): string {
  return `${parseOwner(owner).toLowerCase()}/charts/${parseImageName(name, "name")}`
}
