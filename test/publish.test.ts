/**
 * `publish` without an engine: the test answers the SDK's GraphQL queries. Its `publish`
 * answer really pushes an image (an index when platform variants are given) into a real
 * registry behind a ghcr-style token front, so the module's own version-tag step runs for real.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest"
import { dag, type DirectoryID, type SecretID } from "@dagger.io/dagger"

import { MeetinityRelease } from "../src/index.js"
import { argValue, recordDagger, type Query, type Recorder } from "./support/dagger.js"
import { publishAnswer } from "./support/engine.js"
import { OciPusher } from "./support/oci.js"
import { startRaceProxy } from "./support/race-proxy.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { skopeoDigest } from "./support/skopeo.js"
import { catchSpans } from "./support/spans.js"
import { startTokenRegistry, type TokenRegistry } from "./support/token-registry.js"

const TOKEN = "ghp_Pl41nText-Never-In-A-Query"
const spans = catchSpans()
let registry: RunningRegistry
let front: TokenRegistry
let push: OciPusher
let recorder: Recorder | undefined

beforeAll(async () => {
  registry = await startRegistry()
  front = await startTokenRegistry(registry.url, { username: "ci-bot", password: TOKEN })
  push = new OciPusher(registry.url)
})
afterAll(async () => {
  await front?.stop()
  await registry?.stop()
})
afterEach(() => recorder?.restore())

const REVISION = "org.opencontainers.image.revision"
const SHA = "0123abcdef4567"

/** What a racing run does while this one works: before the first build, or right after this run's push. */
interface Racer {
  duringBuild?: () => Promise<unknown>
  afterPush?: () => Promise<unknown>
}

/**
 * The engine's side: IDs for objects, the secret's plaintext on request, a real push on publish
 * of the platforms that were built (or, with `published`, of other platforms: what the real
 * engine did when the base image had only one), each image's config carrying the labels the
 * module set. A `racer` acts as another run would, at the moment named.
 */
function engine(seed: string, published?: string[], racer: Racer = {}) {
  let built = false
  return async (query: Query) => {
    if (query.leaf === "plaintext") return TOKEN
    if (query.leaf === "sync" && !built) {
      built = true
      await racer.duringBuild?.()
    }
    if (query.leaf === "publish") {
      const platforms = [...new Set(recorder!.calls("dockerBuild").map((b) => /platform: "([^"]+)"/.exec(b.args)![1]!))]
      const labels = Object.fromEntries(
        recorder!
          .calls("withLabel")
          .map((c) => [argValue(c.args, "name") as string, argValue(c.args, "value") as string]),
      )
      const reference = await publishAnswer(push, seed, query, published ?? platforms, labels)
      await racer.afterPush?.()
      return reference
    }
    return undefined
  }
}

/** The platforms built: one `sync` per platform image, before anything is pushed. */
const builtPlatforms = (r: Recorder) =>
  r.queries
    .filter((q) => q.leaf === "sync")
    .map((q) => argValue(q.chain.find((c) => c.field === "dockerBuild")!.args, "platform"))
/** Nothing was built or pushed: the only query sent was for the token, to read the registry. */
const onlyReadTheRegistry = (r: Recorder) => expect(r.queries.map((q) => q.leaf)).toEqual(["plaintext"])
const digestIn = (reference: string) => reference.split("@")[1]!

const source = () => dag.loadDirectoryFromID("DirectoryID-source" as DirectoryID)
const password = () => dag.loadSecretFromID("SecretID-ghcr-token" as SecretID)
const args = (overrides: Partial<Record<string, unknown>> = {}) => ({
  ref: "refs/tags/release/v1.4.2",
  sha: "0123ABCdef4567",
  owner: "Meetinity",
  username: "ci-bot",
  image: "api-gateway",
  dockerfile: "build/Dockerfile",
  platforms: ["linux/amd64", "linux/arm64"],
  buildArgs: ["NODE_ENV=production", "EMPTY="],
  ...overrides,
})
async function publish(overrides: Partial<Record<string, unknown>> = {}) {
  const a = args(overrides) as ReturnType<typeof args>
  return new MeetinityRelease().publish(
    source(),
    a.ref,
    a.sha,
    a.owner,
    a.username,
    password(),
    a.image,
    (overrides.registry as string | undefined) ?? front.url,
    a.dockerfile,
    a.platforms,
    a.buildArgs,
    (overrides.sourceUrl as string | undefined) ?? "",
  )
}

describe("build", () => {
  test("one dockerBuild for the platform, with the Dockerfile and build args; nothing runs until asked", async () => {
    recorder = await recordDagger(() => undefined)
    const container = new MeetinityRelease().build(source(), "ops/Dockerfile", "linux/arm64", ["A=1"])
    expect(recorder.queries).toEqual([])
    await container.id()
    const builds = recorder.calls("dockerBuild")
    expect(builds).toHaveLength(1)
    expect(argValue(builds[0]!.args, "dockerfile")).toBe("ops/Dockerfile")
    expect(argValue(builds[0]!.args, "platform")).toBe("linux/arm64")
    expect(builds[0]!.args).toContain('buildArgs: [{name:"A",value:"1"}]')
  })

  test.each([
    [
      "platform",
      () => new MeetinityRelease().build(source(), "Dockerfile", "arm64"),
      /platform "arm64" is not a platform/,
    ],
    [
      "dockerfile",
      () => new MeetinityRelease().build(source(), "/Dockerfile"),
      /dockerfile "\/Dockerfile" is not a Dockerfile path/,
    ],
    [
      "build arg",
      () => new MeetinityRelease().build(source(), "Dockerfile", "linux/amd64", ["=x"]),
      /buildArgs "=x" is not a build argument/,
    ],
  ])("bad %s: refused before anything is sent", async (_name, run, message) => {
    recorder = await recordDagger(() => undefined)
    expect(run).toThrow(message)
    expect(recorder.queries).toEqual([])
  })
})

describe("publish", () => {
  test.each([
    [
      "a single manifest for two platforms (the base image had only amd64)",
      ["linux/amd64"],
      /pushed as sha256:[0-9a-f]{64}, which is a single image, not an index of linux\/amd64, linux\/arm64/,
    ],
    [
      "an index without one of the platforms built",
      ["linux/amd64", "linux/s390x"],
      /pushed as sha256:[0-9a-f]{64}, an index without linux\/arm64 \(it has linux\/amd64, linux\/s390x\)/,
    ],
  ])(
    "%s: refused before the version tag is written; a re-run finds the build tag short and never moves it",
    async (_name, published, message) => {
      const image = `short-${published.length}`
      recorder = await recordDagger(engine("short", published))
      const attempt = publish({ image })
      await expect(attempt).rejects.toThrow(message)
      await expect(attempt).rejects.toThrow(/The version tag v1\.4\.2 was not written/)
      const pushed = skopeoDigest(registry.host, `meetinity/${image}`, "sha-0123abc")
      expect(pushed).toMatch(/^sha256:/)
      expect(skopeoDigest(registry.host, `meetinity/${image}`, "v1.4.2")).toBeUndefined()

      recorder.restore()
      recorder = await recordDagger(engine("short again"))
      await expect(publish({ image })).rejects.toThrow(
        new RegExp(
          `meetinity/${image}:sha-0123abc already exists at ${pushed} without linux/arm64 .*A build tag never moves.* Nothing was built or pushed\\.$`,
        ),
      )
      onlyReadTheRegistry(recorder)
      expect(skopeoDigest(registry.host, `meetinity/${image}`, "sha-0123abc")).toBe(pushed)
      expect(skopeoDigest(registry.host, `meetinity/${image}`, "v1.4.2")).toBeUndefined()
    },
  )

  test("one platform asked for, another built (the base image had only amd64): refused before the version tag, saying what is left", async () => {
    recorder = await recordDagger(engine("one platform", ["linux/amd64"]))
    const attempt = publish({ image: "wrong-platform", platforms: ["linux/arm64"] })
    await expect(attempt).rejects.toThrow(
      /meetinity\/wrong-platform:sha-0123abc was pushed as sha256:[0-9a-f]{64}, a single linux\/amd64 image, not linux\/arm64: does every base image of the Dockerfile exist/,
    )
    await expect(attempt).rejects.toThrow(
      /The version tag v1\.4\.2 was not written\. sha-0123abc is left at that image/,
    )
    expect(skopeoDigest(registry.host, "meetinity/wrong-platform", "v1.4.2")).toBeUndefined()
  })

  test("the registry failing while the version tag is written (after its retries): says the build tag is pushed and a re-run is safe, which it is", async () => {
    recorder = await recordDagger(engine("flaky tag"))
    front.addFault({
      method: "PUT",
      path: /\/v2\/meetinity\/flaky-tag\/manifests\/v1\.4\.2$/,
      times: 4,
      fault: { status: 503, retryAfter: "0" },
    })
    const attempt = publish({ image: "flaky-tag" })
    await expect(attempt).rejects.toThrow(/PUT .*flaky-tag:v1\.4\.2 answered 503/)
    await expect(attempt).rejects.toThrow(
      /meetinity\/flaky-tag:sha-0123abc was pushed at sha256:[0-9a-f]{64}; the version tag v1\.4\.2 was not written\. Publishing again is safe/,
    )
    const pushed = skopeoDigest(registry.host, "meetinity/flaky-tag", "sha-0123abc")!
    recorder.restore()
    recorder = await recordDagger(engine("flaky tag, again"))
    expect(await publish({ image: "flaky-tag" })).toEqual([
      `${front.host}/meetinity/flaky-tag:v1.4.2@${pushed}`,
      `${front.host}/meetinity/flaky-tag:sha-0123abc@${pushed}`,
    ])
    onlyReadTheRegistry(recorder)
  })

  test("a registry that answers 503 twice while publish reads it: retried, published", async () => {
    recorder = await recordDagger(engine("busy registry"))
    front.addFault({
      method: "GET",
      path: /\/v2\/meetinity\/busy\/manifests\//,
      times: 2,
      fault: { status: 503, retryAfter: "0" },
    })
    const refs = await publish({ image: "busy" })
    expect(refs[0]).toMatch(/busy:v1\.4\.2@sha256:/)
  })

  test("one dockerBuild per platform, labelled, pushed once under the build tag, then the version tag at the same digest", async () => {
    recorder = await recordDagger(engine("multi"))
    spans.reset()
    const refs = await publish()
    const repo = "meetinity/api-gateway"
    const digest = skopeoDigest(registry.host, repo, "sha-0123abc")!
    expect(refs).toEqual([`${front.host}/${repo}:v1.4.2@${digest}`, `${front.host}/${repo}:sha-0123abc@${digest}`])
    expect(skopeoDigest(registry.host, repo, "v1.4.2")).toBe(digest)

    expect(builtPlatforms(recorder)).toEqual(["linux/amd64", "linux/arm64"])
    // The steps the TUI shows, with what a person looks for: the registry read before the build and again before the push.
    const under = (name: string) => spans.spans().filter((s) => s.name === name)
    expect(under("read registry").map((s) => s.attributes)).toEqual([
      expect.objectContaining({
        "oci.repository": `${front.host}/${repo}`,
        "container.image.tags": "v1.4.2,sha-0123abc",
        "step.detail": "version tag missing, build tag missing",
      }),
      expect.objectContaining({ "oci.repository": `${front.host}/${repo}` }),
    ])
    expect(
      under("build")
        .map((s) => s.attributes["container.image.platform"])
        .sort(),
    ).toEqual(["linux/amd64", "linux/arm64"])
    expect(under("push").map((s) => s.attributes["oci.manifest.digest"])).toEqual([digest])
    expect(
      under("tag").map((s) => [s.attributes["container.image.tags"], s.attributes["oci.manifest.digest"]]),
    ).toEqual([["v1.4.2", digest]])
    for (const build of recorder.calls("dockerBuild")) {
      expect(build.args).toContain('dockerfile: "build/Dockerfile"')
      expect(build.args).toContain('{name:"NODE_ENV",value:"production"}')
      expect(build.args).toContain('{name:"EMPTY",value:""}')
    }
    const labels = recorder.queries
      .filter((q) => q.leaf === "sync")
      .flatMap((q) => q.chain.filter((c) => c.field === "withLabel").map((c) => c.args))
    expect(labels).toContain('(name: "org.opencontainers.image.version",value: "v1.4.2")')
    expect(labels).toContain('(name: "org.opencontainers.image.revision",value: "0123abcdef4567")')
    expect(labels).toHaveLength(4)

    const publishes = recorder.calls("publish")
    expect(publishes).toHaveLength(1)
    expect(publishes[0]!.args).toContain(`address: "${front.host}/${repo}:sha-0123abc"`)
    expect(publishes[0]!.args).toMatch(/platformVariants: \["[^"]+","[^"]+"\]/)
    // The images were built (synced) before the build tag was pushed.
    const leaves = recorder.queries.map((q) => q.leaf)
    expect(leaves.lastIndexOf("sync")).toBeLessThan(leaves.indexOf("publish"))
    const auth = recorder.calls("withRegistryAuth")
    expect(auth).toHaveLength(1)
    expect(auth[0]!.args).toMatch(
      new RegExp(`address: "${front.host}",\\s*username: "ci-bot",\\s*secret: "SecretID-ghcr-token"`),
    )

    for (const query of recorder.queries) expect(query.text).not.toContain(TOKEN)
  })

  test("sourceUrl adds the org.opencontainers.image.source label to every platform image", async () => {
    recorder = await recordDagger(engine("labelled"))
    await publish({ image: "labelled", sourceUrl: "https://github.com/meetinity/api-gateway" })
    const synced = recorder.queries.filter((q) => q.leaf === "sync")
    const sources = synced.flatMap((q) =>
      q.chain.filter((c) => c.field === "withLabel" && argValue(c.args, "name") === "org.opencontainers.image.source"),
    )
    expect(sources.map((c) => argValue(c.args, "value"))).toEqual([
      "https://github.com/meetinity/api-gateway",
      "https://github.com/meetinity/api-gateway",
    ])
  })

  test("one platform: a single manifest, no platform variants", async () => {
    recorder = await recordDagger(engine("single"))
    const refs = await publish({ image: "single", platforms: ["linux/amd64"] })
    expect(builtPlatforms(recorder)).toEqual(["linux/amd64"])
    expect(recorder.calls("publish")[0]!.args).not.toContain("platformVariants")
    expect(refs[0]).toMatch(/:v1\.4\.2@sha256:[0-9a-f]{64}$/)
    expect(digestIn(refs[0]!)).toBe(digestIn(refs[1]!))
  })

  test.each([
    ["bad ref", { ref: "release/1.4.2" }, /ref "release\/1.4.2" is not a release ref/],
    ["bad sha", { sha: "xyz" }, /sha "xyz" is not a commit SHA/],
    ["upper-case image", { image: "Api" }, /image "Api" is not an image name/],
    ["bad owner", { owner: "-meetinity" }, /owner "-meetinity"/],
    ["bad platform", { platforms: ["amd64"] }, /platforms "amd64" is not a platform/],
    ["bad build arg", { buildArgs: ["X"] }, /buildArgs "X" is not a build argument/],
    ["bad registry", { registry: "ghcr.io/x" }, /registry "ghcr.io\/x" is not a registry/],
    ["empty username", { username: "" }, /username "" is not a user name/],
    [
      "source URL without https",
      { sourceUrl: "github.com/meetinity" },
      /sourceUrl "github.com\/meetinity" is not a repository URL: expected https:\/\/<host>\/<path>/,
    ],
    [
      "a 10,000-character image name",
      { image: "a".repeat(10_000) },
      /^image "a{80}…" \(10000 characters\) is too long: 10000 characters, expected an image name of at most 255$/,
    ],
    [
      "an image name too long with its registry and owner",
      { image: "a".repeat(250) },
      /image "a{80}…" \(250 characters\) is too long: with the registry and owner, the image name <registry>\/<owner>\/<image> is \d+ characters, and image references allow at most 255/,
    ],
    [
      "a 10,000-character owner",
      { owner: "m".repeat(10_000) },
      /^owner "m{80}…" \(10000 characters\) is too long: 10000 characters, expected a GitHub user or organisation name of at most 39$/,
    ],
    [
      "a 10,000-character registry",
      { registry: `${"r".repeat(10_000)}.io` },
      /^registry "r{80}…" \(10003 characters\) is too long: its host name is 10003 characters, and DNS allows at most 253$/,
    ],
    [
      "a 10,000-character Dockerfile path",
      { dockerfile: "d/".repeat(5_000) },
      /^dockerfile "(d\/){40}…" \(10000 characters\) is too long: 10000 characters, expected a Dockerfile path of at most 4096$/,
    ],
    [
      "a 200,000-byte build argument",
      { buildArgs: [`BIG=${"x".repeat(200_000)}`] },
      /^buildArgs "BIG=x{76}…" \(200004 characters\) is too long: 200004 bytes, expected a KEY=VALUE of at most 131071 bytes/,
    ],
    [
      "10,000 build arguments",
      { buildArgs: Array.from({ length: 10_000 }, (_, i) => `A${i}=1`) },
      /^buildArgs \[10000 items, the first "A0=1"\] has 10000 build arguments: expected at most 256$/,
    ],
    [
      "a 10,000-character platform",
      { platforms: [`linux/${"a".repeat(9_994)}`] },
      /^platforms "linux\/a{74}…" \(10000 characters\) is too long: 10000 characters, expected a platform of at most 64$/,
    ],
    [
      "a 10,000-character user name",
      { username: "u".repeat(10_000) },
      /^username "u{80}…" \(10000 characters\) is too long/,
    ],
    [
      "a 10,000-character source URL",
      { sourceUrl: `https://${"s".repeat(9_992)}` },
      /^sourceUrl "https:\/\/s{72}…" \(10000 characters\) is too long: 10000 characters, expected a URL of at most 2048$/,
    ],
    [
      "a version longer than an image tag",
      { ref: `release/v1.0.0-${"a".repeat(200)}` },
      /^ref "release\/v1\.0\.0-a{65}…" \(215 characters\) is too long: its version is 207 characters, and an image tag is at most 128$/,
    ],
  ])("%s: fails before anything is built or sent", async (_name, overrides, message) => {
    recorder = await recordDagger(engine("never"))
    await expect(publish(overrides)).rejects.toThrow(message)
    expect(recorder.queries).toEqual([])
  })
})

describe("publish never moves a tag: it reads the registry first", () => {
  /** An image built from `sha` (its revision label), pushed straight into the registry under `tag`. */
  const seed = async (
    image: string,
    seedText: string,
    tag: string,
    options: { sha?: string; platforms?: string[] } = {},
  ) => {
    const labels: Record<string, string> = options.sha === undefined ? {} : { [REVISION]: options.sha }
    const platforms = options.platforms ?? ["linux/amd64", "linux/arm64"]
    return platforms.length > 1
      ? (await push.multiArch(`meetinity/${image}`, seedText, platforms, { tag, labels })).index.digest
      : (await push.image(`meetinity/${image}`, seedText, { tag, platform: platforms[0], labels })).digest
  }
  const tagsOf = (image: string) => ({
    version: skopeoDigest(registry.host, `meetinity/${image}`, "v1.4.2"),
    build: skopeoDigest(registry.host, `meetinity/${image}`, "sha-0123abc"),
  })
  const refsAt = (image: string, digest: string) => [
    `${front.host}/meetinity/${image}:v1.4.2@${digest}`,
    `${front.host}/meetinity/${image}:sha-0123abc@${digest}`,
  ]

  test("a re-run of the same commit whose build would differ: both references answered as published, nothing built or pushed", async () => {
    recorder = await recordDagger(engine("first build"))
    const first = await publish({ image: "rerun" })
    recorder.restore()
    // The engine would now produce other bytes (a moved base image): it is never asked to.
    recorder = await recordDagger(engine("second, different build"))
    expect(await publish({ image: "rerun" })).toEqual(first)
    onlyReadTheRegistry(recorder)
    expect(tagsOf("rerun")).toEqual({ version: digestIn(first[0]!), build: digestIn(first[0]!) })
  })

  test.each([
    ["the full SHA, as given", SHA, SHA],
    ["a short SHA given, the full one in the label", "0123abc", `${SHA}89abcdef0123456789abcdef01`],
    [
      "the full SHA given, a short one in the label (a run given a short SHA)",
      `${SHA}89abcdef0123456789abcdef01`,
      "0123abcdef",
    ],
  ])(
    "the version tag names this commit by its revision label (%s), the build tag is missing: it is written there, nothing is built",
    async (_name, sha, label) => {
      const image = `labelled-${label.length}-${sha.length}`
      const digest = await seed(image, `published ${image}`, "v1.4.2", { sha: label })
      recorder = await recordDagger(engine("never built"))
      expect(await publish({ image, sha })).toEqual(refsAt(image, digest))
      onlyReadTheRegistry(recorder)
      expect(tagsOf(image)).toEqual({ version: digest, build: digest })
    },
  )

  test("the version tag without a revision label, the build tag at the same digest: published, nothing to do", async () => {
    const digest = await seed("unlabelled-same", "old release", "v1.4.2")
    await push.tag("meetinity/unlabelled-same", "sha-0123abc", await push.describe("meetinity/unlabelled-same", digest))
    recorder = await recordDagger(engine("never built"))
    expect(await publish({ image: "unlabelled-same" })).toEqual(refsAt("unlabelled-same", digest))
    onlyReadTheRegistry(recorder)
  })

  test.each([
    [
      "from another commit",
      { sha: "fedcba9876543210fedcba9876543210fedcba98" },
      "built from commit fedcba9876543210fedcba9876543210fedcba98; this is commit 0123abcdef4567",
    ],
    [
      "from an unknown commit (no revision label, no build tag)",
      {},
      "built from an unknown commit \\(its image has no org.opencontainers.image.revision label\\); this is commit 0123abcdef4567",
    ],
  ])(
    "the version tag exists %s: refused before anything is built or pushed, naming its digest and commit",
    async (_name, options, commit) => {
      const image = `taken-${Object.keys(options).length}`
      const digest = await seed(image, `someone else ${image}`, "v1.4.2", options)
      recorder = await recordDagger(engine("never built"))
      await expect(publish({ image })).rejects.toThrow(
        new RegExp(
          `^${front.host}/meetinity/${image}:v1\\.4\\.2 already exists at ${digest}, ${commit}\\. Version tags never move: release this commit under a new version\\. Nothing was built or pushed\\.$`,
        ),
      )
      onlyReadTheRegistry(recorder)
      expect(tagsOf(image)).toEqual({ version: digest, build: undefined })
    },
  )

  test("the version tag is this commit's but lacks a platform asked for: refused, nothing built", async () => {
    const digest = await seed("amd64-only", "one platform", "v1.4.2", { sha: SHA, platforms: ["linux/amd64"] })
    recorder = await recordDagger(engine("never built"))
    await expect(publish({ image: "amd64-only" })).rejects.toThrow(
      new RegExp(
        `meetinity/amd64-only:v1\\.4\\.2 was published from this commit at ${digest} without linux/arm64 \\(it holds linux/amd64\\)\\. Version tags never move.* Nothing was built or pushed\\.$`,
      ),
    )
    onlyReadTheRegistry(recorder)
    expect(tagsOf("amd64-only")).toEqual({ version: digest, build: undefined })
  })

  test("the two tags name different images (what a moved build tag left behind): refused, neither moves", async () => {
    const released = await seed("split", "released", "v1.4.2", { sha: SHA })
    const moved = await seed("split", "rebuilt", "sha-0123abc", { sha: SHA })
    recorder = await recordDagger(engine("never built"))
    await expect(publish({ image: "split" })).rejects.toThrow(
      new RegExp(
        `the two tags of this release name different images: .*:v1\\.4\\.2 is ${released} and .*:sha-0123abc is ${moved}\\. Neither tag is moved.* Nothing was built or pushed\\.$`,
      ),
    )
    onlyReadTheRegistry(recorder)
    expect(tagsOf("split")).toEqual({ version: released, build: moved })
  })

  test("a build tag without a version tag (a run that stopped half-way) holding every platform: reused, the version tag written at its digest", async () => {
    const digest = await seed("half-way", "stopped", "sha-0123abc", { sha: SHA })
    recorder = await recordDagger(engine("never built"))
    expect(await publish({ image: "half-way" })).toEqual(refsAt("half-way", digest))
    onlyReadTheRegistry(recorder)
    expect(tagsOf("half-way")).toEqual({ version: digest, build: digest })
  })

  test("a build tag whose index lists a platform the registry no longer has: refused naming it", async () => {
    const image = "half-way-broken"
    const { index, children } = await push.multiArch(`meetinity/${image}`, "broken", ["linux/amd64", "linux/arm64"], {
      tag: "sha-0123abc",
      labels: { [REVISION]: SHA },
    })
    const removed = await fetch(`${registry.url}/v2/meetinity/${image}/manifests/${children[1]!.digest}`, {
      method: "DELETE",
    })
    expect(removed.status).toBe(202)
    recorder = await recordDagger(engine("never built"))
    await expect(publish({ image })).rejects.toThrow(
      new RegExp(`:sha-0123abc already exists at ${index.digest} without linux/arm64 \\(it holds linux/amd64\\)`),
    )
    onlyReadTheRegistry(recorder)
    expect(tagsOf(image)).toEqual({ version: undefined, build: index.digest })
  })

  test("a build tag of another commit whose SHA starts the same: refused, it never moves", async () => {
    const other = "0123abc999999999999999999999999999999999"
    const digest = await seed("collision", "other commit", "sha-0123abc", { sha: other })
    recorder = await recordDagger(engine("never built"))
    await expect(publish({ image: "collision" })).rejects.toThrow(
      new RegExp(`:sha-0123abc already exists at ${digest}, built from commit ${other}, not 0123abcdef4567`),
    )
    onlyReadTheRegistry(recorder)
    expect(tagsOf("collision")).toEqual({ version: undefined, build: digest })
  })
})

describe("two runs racing on the same version: the loser refuses", () => {
  test("another commit publishes the version while this run builds: refused before the build tag is pushed", async () => {
    let theirs = ""
    recorder = await recordDagger(
      engine("mine", undefined, {
        duringBuild: async () =>
          (theirs = (
            await push.multiArch("meetinity/race-build", "theirs", ["linux/amd64", "linux/arm64"], {
              tag: "v1.4.2",
              labels: { [REVISION]: "fedcba9" },
            })
          ).index.digest),
      }),
    )
    await expect(publish({ image: "race-build" })).rejects.toThrow(
      /:v1\.4\.2 already exists at sha256:[0-9a-f]{64}, built from commit fedcba9; this is commit 0123abcdef4567\. .* Another run published while this one built: this run's build was not pushed\.$/,
    )
    expect(builtPlatforms(recorder)).toEqual(["linux/amd64", "linux/arm64"])
    expect(recorder.calls("publish")).toEqual([])
    expect(skopeoDigest(registry.host, "meetinity/race-build", "v1.4.2")).toBe(theirs)
    expect(skopeoDigest(registry.host, "meetinity/race-build", "sha-0123abc")).toBeUndefined()
  })

  test("another run of this commit pushes the build tag while this one builds: its image is reused, this build is not pushed", async () => {
    let theirs = ""
    recorder = await recordDagger(
      engine("mine", undefined, {
        duringBuild: async () =>
          (theirs = (
            await push.multiArch("meetinity/race-same", "their build", ["linux/amd64", "linux/arm64"], {
              tag: "sha-0123abc",
              labels: { [REVISION]: SHA },
            })
          ).index.digest),
      }),
    )
    const refs = await publish({ image: "race-same" })
    expect(refs.map(digestIn)).toEqual([theirs, theirs])
    expect(recorder.calls("publish")).toEqual([])
    expect(skopeoDigest(registry.host, "meetinity/race-same", "v1.4.2")).toBe(theirs)
  })

  test("another commit writes the version tag after this run pushed its build tag: the re-check before the version tag refuses", async () => {
    let theirs = ""
    recorder = await recordDagger(
      engine("mine", undefined, {
        afterPush: async () =>
          (theirs = (
            await push.multiArch("meetinity/race-push", "theirs", ["linux/amd64", "linux/arm64"], {
              tag: "v1.4.2",
              labels: { [REVISION]: "fedcba9" },
            })
          ).index.digest),
      }),
    )
    await expect(publish({ image: "race-push" })).rejects.toThrow(
      /meetinity\/race-push:v1\.4\.2 already exists at sha256:[0-9a-f]{64}; this build is sha256:[0-9a-f]{64}\. Version tags are immutable/,
    )
    expect(skopeoDigest(registry.host, "meetinity/race-push", "v1.4.2")).toBe(theirs)
    expect(skopeoDigest(registry.host, "meetinity/race-push", "sha-0123abc")).not.toBe(theirs)
  })

  test("another commit writes the version tag right after this run did (no compare-and-swap): the read-back finds it and this run refuses", async () => {
    const theirs = await push.multiArch("meetinity/race-write", "theirs", ["linux/amd64", "linux/arm64"], {
      tag: "sha-fedcba9",
      labels: { [REVISION]: "fedcba9" },
    })
    let raced = false
    const proxy = await startRaceProxy(registry.url, async (path) => {
      if (raced || !path.endsWith("/meetinity/race-write/manifests/v1.4.2")) return
      raced = true
      await push.tag("meetinity/race-write", "v1.4.2", theirs.index)
    })
    try {
      recorder = await recordDagger(engine("mine"))
      await expect(publish({ image: "race-write", registry: proxy.url })).rejects.toThrow(
        new RegExp(
          `meetinity/race-write:v1\\.4\\.2 was written at sha256:[0-9a-f]{64}, but another run wrote it at ${theirs.index.digest} at the same time: that run's image is the one published under v1\\.4\\.2; this run stops`,
        ),
      )
      expect(raced).toBe(true)
      expect(skopeoDigest(registry.host, "meetinity/race-write", "v1.4.2")).toBe(theirs.index.digest)
    } finally {
      await proxy.stop()
    }
  })
})
