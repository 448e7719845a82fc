/**
 * The module's public API (docs/api.md is generated from the same source), checked against what Dagger will register
 * (the SDK's own introspector over src/). Names, defaults, optionality, return kinds, doc
 * comments and cache policy: scripts and workflows depend on every one of them.
 */
import { beforeAll, describe, expect, test } from "vitest"

import { SYFT_IMAGE } from "../src/publish/inputs.js"
import { introspectModule, type FunctionInfo } from "./support/introspection.js"

type Kind =
  "STRING_KIND" | "INTEGER_KIND" | "BOOLEAN_KIND" | "LIST_KIND" | "Directory" | "Secret" | "Container" | "File"

interface ExpectedArgument {
  kind: Kind
  /** Absent: required (unless optional). */
  default?: unknown
  /** Optional without a default (an optional Secret or File). */
  optional?: true
  /** A Directory loaded from the module's own files when not given. */
  defaultPath?: string
}

interface ExpectedFunction {
  args: Record<string, ExpectedArgument>
  returns: Kind
  changesTheWorld: boolean
}

const str = (value?: string): ExpectedArgument =>
  value === undefined ? { kind: "STRING_KIND" } : { kind: "STRING_KIND", default: value }
const list = (value?: string[]): ExpectedArgument =>
  value === undefined ? { kind: "LIST_KIND" } : { kind: "LIST_KIND", default: value }
const obj = (kind: "Directory" | "Secret"): ExpectedArgument => ({ kind })
const moduleDir = (path: string): ExpectedArgument => ({ kind: "Directory", defaultPath: path })
const optionalSecret: ExpectedArgument = { kind: "Secret", optional: true }
const optionalFile = (): ExpectedArgument => ({ kind: "File", optional: true })
const int = (value: number): ExpectedArgument => ({ kind: "INTEGER_KIND", default: value })
const bool = (value: boolean): ExpectedArgument => ({ kind: "BOOLEAN_KIND", default: value })

const publishArgs = {
  source: obj("Directory"),
  ref: str(),
  sha: str(),
  owner: str(),
  username: str(),
  password: obj("Secret"),
  image: str("api-gateway"),
  registry: str("ghcr.io"),
  dockerfile: str("Dockerfile"),
  platforms: list(["linux/amd64"]),
  buildArgs: list([]),
}

/** The API as the contract writes it. Extensions (optional arguments and functions we added) are listed apart. */
export const API: Record<string, ExpectedFunction> = {
  version: { args: { ref: str() }, returns: "STRING_KIND", changesTheWorld: false },
  tags: { args: { ref: str(), sha: str() }, returns: "LIST_KIND", changesTheWorld: false },
  build: {
    args: {
      source: obj("Directory"),
      dockerfile: str("Dockerfile"),
      platform: str("linux/amd64"),
      buildArgs: list([]),
    },
    returns: "Container",
    changesTheWorld: false,
  },
  publish: { args: publishArgs, returns: "LIST_KIND", changesTheWorld: true },
  pullSecret: {
    args: {
      kubeconfig: obj("Secret"),
      namespace: str(),
      // Renamed in v0.4.0 (the README's "Changes"): one flag name for one thing across functions.
      // The contract's username, token and name.
      readerUsername: str(),
      readerToken: obj("Secret"),
      pullSecretName: str("ghcr-pull-secret"),
      server: str("ghcr.io"),
    },
    returns: "STRING_KIND",
    changesTheWorld: true,
  },
  helmDeploy: {
    args: {
      // Optional since v0.4.0: --chart-ref (an extension) names a published chart instead.
      chart: { kind: "Directory", optional: true },
      kubeconfig: obj("Secret"),
      namespace: str(),
      version: str(),
      image: str(),
      // The contract's release, renamed in v0.4.0 as release's own flag is named.
      helmRelease: str("meetinity"),
      pullSecretName: str("ghcr-pull-secret"),
      timeout: str("10m"),
      set: list([]),
      digest: str(""),
      readerUsername: str(""),
      readerToken: optionalSecret,
      values: list([]),
      // Added later by the contract (several services in one umbrella chart).
      imageValues: str("global.image"),
    },
    returns: "STRING_KIND",
    changesTheWorld: true,
  },
  release: {
    args: {
      ...publishArgs,
      // Optional since v0.4.0: --chart-ref (an extension) names a published chart instead.
      chart: { kind: "Directory", optional: true },
      kubeconfig: obj("Secret"),
      readerUsername: str(),
      readerToken: obj("Secret"),
      namespaces: list(["meetinity-dev", "meetinity-staging", "meetinity-prod"]),
      helmRelease: str("meetinity"),
      values: list([]),
      imageValues: str("global.image"),
    },
    returns: "STRING_KIND",
    changesTheWorld: true,
  },
  imageUri: {
    args: {
      image: str(),
      version: str(),
      digest: str(""),
      // The contract's username and token, renamed in v0.4.0 as every deploy's reader flags are named.
      readerUsername: str(""),
      readerToken: optionalSecret,
      platform: str("linux/amd64"),
      githubOutput: bool(false),
    },
    returns: "STRING_KIND",
    // It reads the registry as it is now: a cached answer could name a digest that moved.
    changesTheWorld: true,
  },
  retain: {
    args: {
      owner: str(),
      token: obj("Secret"),
      // The contract's default `api-gateway`, dropped in v0.4.0: a function that deletes names its package.
      image: str(""),
      keep: { kind: "INTEGER_KIND", default: 30 },
      dryRun: { kind: "BOOLEAN_KIND", default: false },
      maxDeletions: { kind: "INTEGER_KIND", default: 1000 },
      githubApiUrl: str("https://api.github.com"),
      registry: str("ghcr.io"),
      // The contract's `json = false`, renamed: `dagger call` has its own --json flag, and an
      // argument of that name made every `dagger call retain` fail on a real engine (docs/engine-run.md).
      format: str("table"),
      // Added later by the contract, after the extensions below.
      plan: optionalFile(),
      maxRequests: { kind: "INTEGER_KIND", default: 0 },
      images: list([]),
    },
    returns: "STRING_KIND",
    changesTheWorld: true,
  },
  restore: {
    args: {
      owner: str(),
      token: obj("Secret"),
      image: str("api-gateway"),
      ids: list([]),
      plan: optionalFile(),
      githubApiUrl: str("https://api.github.com"),
      dryRun: { kind: "BOOLEAN_KIND", default: false },
    },
    returns: "STRING_KIND",
    changesTheWorld: true,
  },
}

/** Functions this module adds beyond the spec (documented in the README). */
export const EXTRA_FUNCTIONS: Record<string, ExpectedFunction> = {
  // Asked for after v0.3.0: what an organisation's repository lacks, by name only.
  setupCheck: {
    args: {
      repository: str(),
      token: obj("Secret"),
      workflows: moduleDir("/.github/workflows"),
      githubApiUrl: str("https://api.github.com"),
      format: str("table"),
    },
    returns: "STRING_KIND",
    // It reads the repository's settings as they are now.
    changesTheWorld: true,
  },
  retentionSummary: {
    args: { report: { kind: "File" }, rows: { kind: "INTEGER_KIND", default: 200 } },
    returns: "STRING_KIND",
    changesTheWorld: false,
  },
  // Every argument optional: `dagger call rehearse` alone rehearses the module's own example service and chart.
  rehearse: {
    args: {
      source: moduleDir("examples/api-gateway"),
      chart: moduleDir("examples/meetinity"),
      imageValues: str("api-gateway.image"),
      namespaces: list(["meetinity-dev", "meetinity-staging", "meetinity-prod"]),
      values: list([]),
      set: list([]),
      platforms: list(["linux/amd64"]),
      image: str("api-gateway"),
      timeout: str("5m"),
      dockerfile: str("Dockerfile"),
      buildArgs: list([]),
      helmRelease: str("meetinity"),
      pullSecretName: str("ghcr-pull-secret"),
      chartRef: str(""),
      valuesDir: { kind: "Directory", optional: true },
      sign: bool(true),
      node: str("auto"),
      syftImage: str(SYFT_IMAGE),
    },
    returns: "STRING_KIND",
    changesTheWorld: true,
  },
  // Asked for after v0.3.0: one published umbrella chart instead of a copy in every service.
  publishChart: {
    args: {
      chart: obj("Directory"),
      owner: str(),
      username: str(),
      password: obj("Secret"),
      registry: str("ghcr.io"),
      created: str(""),
    },
    returns: "STRING_KIND",
    changesTheWorld: true,
  },
}

/** Signing at publish (asked for after v0.3.0): a key, or keyless with its services. */
const signingArgs = {
  signingKey: optionalSecret,
  oidcToken: optionalSecret,
  fulcioUrl: str("https://fulcio.sigstore.dev"),
  rekorUrl: str("https://rekor.sigstore.dev"),
  timestampUrl: str(""),
  trustedRoot: optionalFile(),
  oidcRequestUrl: str(""),
  oidcRequestToken: optionalSecret,
  // The same pin as the module's SBOM step uses (src/publish/attest.ts).
  syftImage: str(SYFT_IMAGE),
}

/** The verification gate before a deploy (asked for after v0.3.0); off by default. */
const gateArgs = {
  verify: str("off"),
  verifyKey: optionalFile(),
  verifyIssuer: str(""),
  verifyIdentity: str(""),
  requirePredicates: list([]),
  trustedRoot: optionalFile(),
}

/** Optional arguments this module adds beyond the spec (documented in the README). */
export const EXTENSIONS: Record<string, Record<string, ExpectedArgument>> = {
  publish: { sourceUrl: str(""), ...signingArgs },
  imageUri: gateArgs,
  helmDeploy: {
    ...gateArgs,
    historyMax: int(10),
    platform: str("linux/amd64"),
    allowDowngrade: bool(false),
    allowRemoval: bool(false),
    chartRef: str(""),
    valuesDir: { kind: "Directory", optional: true },
  },
  release: {
    ...signingArgs,
    ...gateArgs,
    allowRemoval: bool(false),
    chartRef: str(""),
    valuesDir: { kind: "Directory", optional: true },
    timeout: str("10m"),
    set: list([]),
    platform: str("linux/amd64"),
    allowDowngrade: bool(false),
    pullSecretName: str("ghcr-pull-secret"),
  },
  retain: {
    graceMinutes: { kind: "INTEGER_KIND", default: 0 },
    registryUsername: str(""),
    quotaReserve: { kind: "INTEGER_KIND", default: 100 },
    moduleRef: str(""),
  },
  restore: { journal: optionalFile() },
}

let functions: Record<string, FunctionInfo>
let moduleDescription: string

beforeAll(async () => {
  const introspected = await introspectModule()
  functions = introspected.functions
  moduleDescription = introspected.description
}, 120_000)

function kindOf(type: FunctionInfo["returnType"] | FunctionInfo["arguments"][string]["type"]): string {
  return type.kind === "OBJECT_KIND" ? type.name! : type.kind
}

describe("the module's API as Dagger registers it", () => {
  test("the main object is documented and has exactly the API's functions (plus none unknown)", () => {
    expect(moduleDescription).not.toBe("")
    expect(Object.keys(functions).sort()).toEqual([...Object.keys(API), ...Object.keys(EXTRA_FUNCTIONS)].sort())
  })

  test("retain's arguments keep their order: the ones added later come after every earlier one", () => {
    expect(Object.keys(functions.retain!.arguments)).toEqual([
      "owner",
      "token",
      "image",
      "keep",
      "dryRun",
      "maxDeletions",
      "githubApiUrl",
      "registry",
      "format",
      "graceMinutes",
      "registryUsername",
      "plan",
      "maxRequests",
      "images",
      "quotaReserve",
      "moduleRef",
    ])
  })

  describe.each(Object.entries({ ...API, ...EXTRA_FUNCTIONS }))("%s", (name, expected) => {
    test("has exactly the spec's arguments, kinds and defaults, plus documented extensions", () => {
      const fn = functions[name]!
      const all = { ...expected.args, ...(EXTENSIONS[name] ?? {}) }
      expect(Object.keys(fn.arguments).sort()).toEqual(Object.keys(all).sort())
      for (const [argName, arg] of Object.entries(all)) {
        const actual = fn.arguments[argName]!
        expect(kindOf(actual.type), `${name}.${argName} kind`).toBe(arg.kind)
        if ("default" in arg) {
          expect(actual.defaultValue, `${name}.${argName} default`).toEqual(arg.default)
        } else if (arg.defaultPath) {
          expect(actual.defaultPath, `${name}.${argName} defaultPath`).toBe(arg.defaultPath)
        } else if (arg.optional) {
          expect(actual.isOptional, `${name}.${argName} is optional`).toBe(true)
        } else {
          expect(actual.defaultValue, `${name}.${argName} is required`).toBeUndefined()
          expect(actual.isOptional, `${name}.${argName} is required`).toBe(false)
        }
      }
    })

    test("returns the spec's kind", () => {
      expect(kindOf(functions[name]!.returnType)).toBe(expected.returns)
    })

    test("is documented: a description with an Example line, and every argument described", () => {
      const fn = functions[name]!
      expect(fn.description).toMatch(/\S/)
      expect(fn.description).toMatch(
        new RegExp(`Example: dagger call ${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}( |$)`, "m"),
      )
      for (const arg of Object.values(fn.arguments)) expect(arg.description, `${name}.${arg.name}`).toMatch(/\S{3}/)
    })

    test(
      expected.changesTheWorld
        ? "is never cached (it changes or reads the world as it is now)"
        : "keeps the default cache policy",
      () => {
        expect(functions[name]!.cache).toBe(expected.changesTheWorld ? "never" : undefined)
      },
    )
  })
})
