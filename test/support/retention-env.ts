/**
 * The world a retention test runs in: a real docker-registry holding real manifests, behind a
 * ghcr-style token front, and the GitHub packages API stand-in deleting from that registry as
 * ghcr.io does; clients wired to them, and checks read back from the registry itself.
 */
import { expect } from "vitest"

import { createGitHubClient, type RequestCounter } from "../../src/github/client.js"
import { type RetentionDeps, type RetentionRequest } from "../../src/retention/inputs.js"
import { RegistryClient } from "../../src/oci/client.js"
import { startGitHubApi, type GitHubApi, type GitHubApiOptions, type TokenInfo } from "./github-api.js"
import { OciPusher } from "./oci.js"
import { startRegistry, type RunningRegistry } from "./registry.js"
import { PackageSeeder, type Seeded } from "./seed.js"
import { startTokenRegistry, type TokenRegistry } from "./token-registry.js"

/** The clock retention tests plan at. */
export const NOW = new Date("2026-06-01T00:00:00Z")

export const TOKENS: Record<string, TokenInfo> = {
  ghp_admin: { login: "alice", scopes: ["read:packages", "write:packages", "delete:packages"] },
  ghp_readonly: { login: "alice", scopes: ["read:packages"] },
  ghs_actions: {
    login: "github-actions[bot]",
    scopes: ["read:packages", "write:packages", "delete:packages"],
    integration: true,
  },
}

export interface RetentionEnv {
  readonly registry: RunningRegistry
  readonly front: TokenRegistry
  readonly push: OciPusher
  readonly api: GitHubApi
  /** What the runs logged, since the last reset. */
  readonly logs: string[]
  /** A fresh package name, so tests never see each other's versions. */
  freshName(base?: string): string
  /** Clients for a run against the stand-ins (time scaled: 10 ms a second). */
  deps(
    owner: string,
    name: string,
    options?: { token?: string; registryHost?: string; counter?: RequestCounter },
  ): RetentionDeps
  request(owner: string, name: string, overrides?: Partial<RetentionRequest>): RetentionRequest
  /** Does the registry still serve this digest? */
  resolves(repository: string, digest: string): Promise<boolean>
  expectIntact(repository: string, images: readonly Seeded[]): Promise<void>
  expectGone(repository: string, images: readonly Seeded[]): Promise<void>
  /** A small package: one release (multi-arch when asked), then `orphans` untagged orphans. */
  seedSmall(
    base: string,
    options?: { owner?: string; name?: string; platforms?: string[]; orphans?: number },
  ): Promise<{ name: string; repository: string; release: Seeded; orphans: Seeded[]; orphan: Seeded }>
  stop(): Promise<void>
}

export async function startRetentionEnv(
  options: Partial<Pick<GitHubApiOptions, "popular" | "rateLimit" | "clock">> = {},
): Promise<RetentionEnv> {
  const registry = await startRegistry()
  const front = await startTokenRegistry(registry.url, { username: "Meetinity", password: "ghp_admin" })
  const push = new OciPusher(registry.url)
  const api = await startGitHubApi({
    owners: { Meetinity: "Organization", alice: "User", bob: "User" },
    tokens: TOKENS,
    registry: { url: registry.url, repository: (owner, name) => `${owner.toLowerCase()}/${name}` },
    ...options,
  })
  const logs: string[] = []
  let counter = 0
  const resolves = async (repository: string, digest: string) =>
    (await new RegistryClient({ scheme: "http", host: registry.host }).resolve(repository, digest)) !== undefined
  const env: RetentionEnv = {
    registry,
    front,
    push,
    api,
    logs,
    freshName: (base = "svc") => `${base}-${++counter}`,
    deps: (owner, name, { token = "ghp_admin", registryHost = front.host, counter: requests } = {}) => ({
      github: createGitHubClient({
        token,
        baseUrl: api.url,
        log: (l) => logs.push(l),
        msPerSecond: 10,
        retries: 4,
        ...(requests ? { counter: requests } : {}),
      }),
      registry: new RegistryClient(
        { scheme: "http", host: registryHost },
        { username: owner, password: token },
        { msPerSecond: 10 },
      ),
      repository: `${owner.toLowerCase()}/${name}`,
      log: (l: string) => logs.push(l),
      ...(requests ? { counter: requests } : {}),
    }),
    request: (owner, name, overrides = {}) => ({
      owner,
      packageName: name,
      policy: { keep: 30, graceMinutes: 0 },
      dryRun: false,
      maxDeletions: 1000,
      now: NOW,
      ...overrides,
    }),
    resolves,
    async expectIntact(repository, images) {
      for (const image of images) {
        expect(await resolves(repository, image.digest), `${image.tags.join(",")} ${image.digest}`).toBe(true)
        for (const child of image.children)
          expect(await resolves(repository, child), `child ${child} of ${image.tags.join(",")}`).toBe(true)
      }
    },
    async expectGone(repository, images) {
      for (const image of images) {
        expect(await resolves(repository, image.digest), `${image.tags.join(",")} ${image.digest}`).toBe(false)
        for (const child of image.children) expect(await resolves(repository, child), `child ${child}`).toBe(false)
      }
    },
    async seedSmall(base, opts = {}) {
      const owner = opts.owner ?? "Meetinity"
      const name = opts.name ?? env.freshName(base)
      const repository = `${owner.toLowerCase()}/${name}`
      const seeder = new PackageSeeder(push, repository)
      const release = await seeder.image(`${base} ${name}`, ["v1.0.0"], { platforms: opts.platforms })
      const orphans: Seeded[] = []
      for (let i = 0; i < (opts.orphans ?? 1); i++) orphans.push(await seeder.orphan(`${name} ${i}`))
      seeder.publish(api, owner, name)
      return { name, repository, release, orphans, orphan: orphans[0]! }
    },
    async stop() {
      await api.stop()
      await front.stop()
      await registry.stop()
    },
  }
  return env
}
