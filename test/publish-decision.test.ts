/** The publish decision, table-driven: what the registry holds -> reuse, build or refuse. */
import { describe, expect, test } from "vitest"

import { type Platform } from "../src/oci/platform.js"
import {
  decideImmutableTag,
  decidePublish,
  type PublishTarget,
  type RegistryState,
  sameCommit,
  type TagState,
} from "../src/publish/decision.js"

const SHA = "0123abcdef0123abcdef0123abcdef0123abcdef"
const OTHER = "fedcba9876543210fedcba9876543210fedcba98"
const A = `sha256:${"a".repeat(64)}`
const B = `sha256:${"b".repeat(64)}`
const amd64 = { os: "linux", architecture: "amd64" }
const arm64 = { os: "linux", architecture: "arm64" }
const armv7 = { os: "linux", architecture: "arm", variant: "v7" }

const target = (overrides: Partial<PublishTarget> = {}): PublishTarget => ({
  address: "ghcr.io/meetinity/api-gateway",
  versionTag: "v1.4.2",
  buildTag: "sha-0123abc",
  sha: SHA,
  platforms: ["linux/amd64", "linux/arm64"],
  ...overrides,
})
const tag = (digest: string, revision: string | undefined, platforms: Platform[] = [amd64, arm64]): TagState => ({
  digest,
  ...(revision === undefined ? {} : { revision }),
  platforms,
})

describe("decidePublish", () => {
  test.each<[string, RegistryState, Partial<PublishTarget>, object]>([
    ["nothing there", {}, {}, { action: "build" }],
    [
      "both tags at one digest, labelled this commit",
      { version: tag(A, SHA), build: tag(A, SHA) },
      {},
      { action: "reuse", digest: A, write: [] },
    ],
    [
      "both tags at one digest, no label",
      { version: tag(A, undefined), build: tag(A, undefined) },
      {},
      { action: "reuse", digest: A, write: [] },
    ],
    [
      "version labelled this commit, build tag missing",
      { version: tag(A, SHA) },
      {},
      { action: "reuse", digest: A, write: ["build"] },
    ],
    [
      "version labelled with a short SHA, full SHA given",
      { version: tag(A, "0123abc") },
      {},
      { action: "reuse", digest: A, write: ["build"] },
    ],
    [
      "version labelled in upper case",
      { version: tag(A, SHA.toUpperCase()) },
      {},
      { action: "reuse", digest: A, write: ["build"] },
    ],
    [
      "version with extra platforms",
      { version: tag(A, SHA, [amd64, arm64, armv7]) },
      { platforms: ["linux/arm/v7"] },
      { action: "reuse", digest: A, write: ["build"] },
    ],
    [
      "build tag only, this commit, every platform",
      { build: tag(B, SHA) },
      {},
      { action: "reuse", digest: B, write: ["version"] },
    ],
    [
      "build tag only, no label, every platform",
      { build: tag(B, undefined) },
      {},
      { action: "reuse", digest: B, write: ["version"] },
    ],
    ["version from another commit", { version: tag(A, OTHER) }, {}, { action: "refuse" }],
    [
      "version from another commit, though the build tag names it (7-character collision)",
      { version: tag(A, OTHER), build: tag(A, OTHER) },
      {},
      { action: "refuse" },
    ],
    ["version without label, no build tag", { version: tag(A, undefined) }, {}, { action: "refuse" }],
    [
      "version without label, build tag elsewhere",
      { version: tag(A, undefined), build: tag(B, SHA) },
      {},
      { action: "refuse" },
    ],
    ["version of this commit lacking arm64", { version: tag(A, SHA, [amd64]) }, {}, { action: "refuse" }],
    ["the two tags at different digests", { version: tag(A, SHA), build: tag(B, SHA) }, {}, { action: "refuse" }],
    ["build tag only, lacking arm64", { build: tag(B, SHA, [amd64]) }, {}, { action: "refuse" }],
    [
      "build tag only, another commit with the same first 7",
      { build: tag(B, "0123abc999999999999999999999999999999999") },
      {},
      { action: "refuse" },
    ],
    [
      "build tag only, a variant asked for that it lacks",
      { build: tag(B, SHA, [amd64, { os: "linux", architecture: "arm", variant: "v6" }]) },
      { platforms: ["linux/arm/v7"] },
      { action: "refuse" },
    ],
  ])("%s", (_name, state, overrides, expected) => {
    expect(decidePublish(target(overrides), state)).toMatchObject(expected)
  })

  test.each<[string, RegistryState, RegExp]>([
    [
      "another commit",
      { version: tag(A, OTHER) },
      new RegExp(
        `v1\\.4\\.2 already exists at ${A}, built from commit ${OTHER}; this is commit ${SHA}\\. Version tags never move`,
      ),
    ],
    [
      "an unknown commit",
      { version: tag(A, undefined) },
      /built from an unknown commit \(its image has no org\.opencontainers\.image\.revision label\)/,
    ],
    [
      "a platform missing",
      { version: tag(A, SHA, [amd64]) },
      /v1\.4\.2 was published from this commit at sha256:a{64} without linux\/arm64 \(it holds linux\/amd64\)/,
    ],
    [
      "a short build tag",
      { build: tag(B, SHA, []) },
      /sha-0123abc already exists at sha256:b{64} without linux\/amd64, linux\/arm64 \(it holds no platform the registry still serves\), and no version tag names it/,
    ],
  ])("the refusal names the tag, the digest and the commit: %s", (_name, state, message) => {
    const decision = decidePublish(target(), state)
    expect(decision.action).toBe("refuse")
    expect((decision as { reason: string }).reason).toMatch(message)
  })
})

describe("sameCommit", () => {
  test.each<[string | undefined, string, boolean | undefined]>([
    [undefined, SHA, undefined],
    ["", SHA, undefined],
    ["  ", SHA, undefined],
    [SHA, SHA, true],
    ["0123abc", SHA, true],
    [SHA, "0123abc", true],
    [` ${SHA.toUpperCase()} `, SHA, true],
    [OTHER, SHA, false],
    ["0123ab", SHA, false],
    ["0123abd", SHA, false],
    ["not-a-sha", SHA, false],
  ])("label %j, sha %s -> %s", (label, sha, expected) => {
    expect(sameCommit(label, sha)).toBe(expected)
  })
})

describe("decideImmutableTag", () => {
  test.each([
    [undefined, { action: "create" }],
    [A, { action: "unchanged" }],
    [B, { action: "refuse", existing: B }],
  ])("existing %s", (existing, expected) => {
    expect(decideImmutableTag(existing, A)).toEqual(expected)
  })
})
