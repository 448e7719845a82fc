/**
 * Names every capability checks the same way: the length limits (checked before a pattern, so a
 * runaway value is refused with its length), GitHub logins and registry user names.
 */
import { check } from "./errors.js"

/**
 * The longest value each name may have, checked before its pattern, so a runaway value is
 * refused with its length instead of reaching the engine or a registry.
 */
export const LIMITS = {
  /** An image tag (`vX.Y.Z-pre`): the OCI distribution spec's tag grammar allows 128 characters. */
  tag: 128,
  /** A GitHub login (user or organisation). */
  owner: 39,
  /**
   * An image name: the reference grammar of Docker, containerd and skopeo caps the whole name,
   * `<registry>/<owner>/<image>`, at 255 characters (the registry itself caps `<owner>/<image>`).
   */
  repository: 255,
  /** A registry host name (without its port): DNS allows 253 characters, 63 per label. */
  host: 253,
  hostLabel: 63,
  /** A Dockerfile path: Linux's PATH_MAX. */
  dockerfile: 4096,
  /** One `KEY=VALUE` build argument, in UTF-8 bytes: the longest environment string Linux passes to a `RUN` step (MAX_ARG_STRLEN, 128 KiB with its NUL). */
  buildArgBytes: 131_071,
  /** How many build arguments one call may give. */
  buildArgs: 256,
  /** One `os/arch[/variant]` platform. */
  platform: 64,
  /** How many platforms one build may have. */
  platforms: 16,
  /** A registry user name. */
  username: 255,
  /** A repository URL for the `org.opencontainers.image.source` label. */
  url: 2048,
} as const

/** Refuses a string longer than `max` characters, saying how long it is (the quote is shortened). */
export function checkLength(value: string, max: number, argument: string, what: string): void {
  check(
    value.length <= max,
    argument,
    value,
    `is too long: ${value.length} characters, expected ${what} of at most ${max}`,
  )
}

/** A GitHub login (user or organisation): letters, digits and single hyphens, at most 39. */
export function parseOwner(value: string, argument = "owner"): string {
  checkLength(value, LIMITS.owner, argument, "a GitHub user or organisation name")
  check(
    /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/.test(value),
    argument,
    value,
    "is not a GitHub user or organisation name: expected letters, digits and single hyphens, at most 39 characters (e.g. meetinity)",
  )
  return value
}

/** Control, invisible and bidirectional characters: never part of a name, a path or an address. */
export const CONTROL = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/

/** A registry or GitHub user name: not empty, no whitespace, no colon (it would break basic auth), no control character. */
export function parseUsername(value: string, argument = "username"): string {
  checkLength(value, LIMITS.username, argument, "a user name")
  check(
    /^[^\s:]+$/.test(value) && !CONTROL.test(value),
    argument,
    value,
    "is not a user name: expected a non-empty name without spaces, colons or control characters (e.g. the GitHub user that owns the token)",
  )
  return value
}

/**
 * Refuses user info in an address (`https://user:password@host`, `token@host`): credentials
 * travel only as Dagger Secrets. The refusal never shows it (the quote is redacted).
 */
export function checkNoUserInfo(value: string, argument: string): void {
  check(
    !/^(?:[a-z][a-z0-9+.-]*:\/\/)?[^/?#\s]*@/i.test(value),
    argument,
    value,
    "carries user info (user:password@ or token@ before the host): credentials go only in the Secret arguments (a token as env://NAME), never in an address; give the address alone (e.g. https://ghcr.io)",
  )
}

/** Refuses a port outside 1 to 65535 in `host:port` (the value is what the argument was given). */
export function checkPort(hostAndPort: string, value: string, argument: string): void {
  const port = /:([0-9]+)$/.exec(hostAndPort)?.[1]
  check(
    port === undefined || (Number(port) >= 1 && Number(port) <= 65535),
    argument,
    value,
    `has port ${port}: expected a TCP port from 1 to 65535`,
  )
}
