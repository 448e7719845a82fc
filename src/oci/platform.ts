/** Platforms (`os/arch[/variant]`): parsed from arguments, read from manifests and configs, compared. */
import { check } from "../common/errors.js"
import { checkLength, LIMITS } from "../common/names.js"
import { type ManifestJson } from "./manifest.js"

/** A build platform such as `linux/amd64` or `linux/arm/v7`. */
export function parsePlatforms(values: readonly string[], argument = "platforms"): string[] {
  check(values.length > 0, argument, values, "is empty: expected at least one platform (e.g. linux/amd64)")
  check(
    values.length <= LIMITS.platforms,
    argument,
    values,
    `has ${values.length} platforms: expected at most ${LIMITS.platforms}`,
  )
  for (const value of values) {
    checkLength(value, LIMITS.platform, argument, "a platform")
    check(
      /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/.test(value),
      argument,
      value,
      "is not a platform: expected os/arch or os/arch/variant (e.g. linux/amd64, linux/arm64, linux/arm/v7)",
    )
  }
  const seen = new Set<string>()
  for (const value of values) {
    check(!seen.has(value), argument, value, "is listed twice: expected each platform once")
    seen.add(value)
  }
  return [...values]
}

/** One platform, `os/arch[/variant]`, e.g. `linux/amd64`. */
export interface Platform {
  readonly os: string
  readonly architecture: string
  readonly variant?: string
}

export function parsePlatform(value: string, argument = "platform"): Platform {
  const [checked] = parsePlatforms([value], argument)
  const [os, architecture, variant] = checked!.split("/")
  return { os: os!, architecture: architecture!, ...(variant ? { variant } : {}) }
}

/** `os/arch[/variant]` of a platform as a manifest, index entry or image config states it. */
export const formatPlatform = (p: { os?: string; architecture?: string; variant?: string }) =>
  [p.os ?? "?", p.architecture ?? "?", p.variant].filter(Boolean).join("/")

/** Does a descriptor's or config's platform satisfy the wanted one? A variant is compared only when one is wanted. */
export function platformMatches(
  have: { os?: string; architecture?: string; variant?: string } | undefined,
  want: Platform,
): boolean {
  if (!have) return false
  return (
    have.os === want.os &&
    have.architecture === want.architecture &&
    (want.variant === undefined || have.variant === want.variant)
  )
}

/** The platforms an index lists, attestation manifests (`unknown/unknown`) left out. */
export function listedPlatforms(index: ManifestJson): string[] {
  return (index.manifests ?? [])
    .filter((m) => m.platform && m.platform.os !== "unknown")
    .map((m) => formatPlatform(m.platform!))
}
