/**
 * A chart by reference for a deploy, against real programs: resolved and pulled by digest with
 * the module's registry client (a real docker-registry, behind a ghcr-style token front for the
 * reader's credentials), unpacked into a directory real Helm 4.1.4 renders as it renders the
 * chart directory; a pinned digest the version does not have is refused; binary files survive.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest"
import { dag } from "@dagger.io/dagger"

import { chartDirectory, chartFilesOf } from "../src/charts/directory.js"
import { packageChart } from "../src/charts/package.js"
import { publishChart } from "../src/charts/publish.js"
import { directoryEntries, pullChart, resolveChart } from "../src/charts/pull.js"
import { parseChartReference } from "../src/charts/reference.js"
import { Steps } from "../src/common/steps.js"
import { RegistryClient } from "../src/oci/client.js"
import { copyChart, EXAMPLE_CHART, helmHome, readChartFiles, writeChartFiles } from "./support/charts.js"
import { argValue, recordDagger, type Recorder } from "./support/dagger.js"
import { OciPusher } from "./support/oci.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { startTokenRegistry, type TokenRegistry } from "./support/token-registry.js"

let registry: RunningRegistry
let writer: TokenRegistry
let reader: TokenRegistry
let recorder: Recorder | undefined
beforeAll(async () => {
  process.env.REGISTRY_HTTP_RELATIVEURLS = "true"
  registry = await startRegistry().finally(() => delete process.env.REGISTRY_HTTP_RELATIVEURLS)
  // Two ghcr-style fronts on one registry: the publisher's token, and the reader's.
  writer = await startTokenRegistry(registry.url, { username: "Meetinity", password: "ghp_writer" })
  reader = await startTokenRegistry(registry.url, { username: "reader-bot", password: "ghp_reader" })
})
afterAll(async () => {
  await reader?.stop()
  await writer?.stop()
  await registry?.stop()
})
afterEach(() => recorder?.restore())

let owners = 0
const freshRepository = () => `pull${++owners}/charts/meetinity`
const direct = () => new RegistryClient({ scheme: "http", host: registry.host })
const readerClient = (password = "ghp_reader") =>
  new RegistryClient({ scheme: "http", host: reader.host }, { username: "reader-bot", password }, { msPerSecond: 10 })
const writerClient = () =>
  new RegistryClient({ scheme: "http", host: writer.host }, { username: "Meetinity", password: "ghp_writer" })
const ref = (host: string, rest: string) => parseChartReference(`oci://${host}/${rest}`)
const IMAGE = [
  "--set",
  "api-gateway.image.repository=ghcr.io/meetinity/api-gateway",
  "--set",
  "api-gateway.image.tag=v1",
]
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: Error) => error.message,
  )

describe("pullChart", () => {
  test("(e) pulls by reference, pinned by digest: Helm renders and shows the pulled files as the chart directory", async () => {
    const repository = freshRepository()
    const published = await publishChart({ client: writerClient(), repository, files: readChartFiles(EXAMPLE_CHART) })

    const steps = new Steps()
    const { chart, files } = await pullChart(readerClient(), ref(reader.host, `${repository}:0.2.0`), steps)
    expect(steps.records.map((r) => [r.step, r.detail])).toEqual([
      ["resolve chart", chart.reference],
      ["pull chart", `${files.length} files`],
    ])
    expect(chart).toMatchObject({ digest: published.digest, name: "meetinity", version: "0.2.0" })
    expect(chart.reference).toBe(`oci://${reader.host}/${repository}:0.2.0@${published.digest}`)
    const dir = writeChartFiles(files)
    const helm = helmHome()
    const render = (at: string) =>
      helm.ok([
        "template",
        "meetinity",
        at,
        "--namespace",
        "meetinity-prod",
        ...IMAGE,
        "-f",
        join(at, "values-meetinity-prod.yaml"),
      ])
    expect(render(dir)).toBe(render(EXAMPLE_CHART))
    expect(render(dir)).toContain("replicas: 3")
    expect(helm.ok(["show", "chart", dir])).toBe(helm.ok(["show", "chart", EXAMPLE_CHART]))
    // The files are the chart's own, byte for byte.
    for (const file of readChartFiles(EXAMPLE_CHART))
      expect(Buffer.from(files.find((f) => f.path === file.path)!.contents), file.path).toEqual(file.contents)
    expect(files).toHaveLength(readChartFiles(EXAMPLE_CHART).length)

    // Pinned: the version and its digest, or the digest alone.
    const pinned = await resolveChart(readerClient(), ref(reader.host, `${repository}:0.2.0@${published.digest}`))
    expect(pinned.digest).toBe(published.digest)
    const byDigest = await resolveChart(readerClient(), ref(reader.host, `${repository}@${published.digest}`))
    expect(byDigest).toMatchObject({ version: "0.2.0", reference: pinned.reference.replace(reader.host, reader.host) })
  })

  test("(e) a digest the version does not have is refused; after the tag moved, the pinned digest still pulls the old chart", async () => {
    const repository = freshRepository()
    const published = await publishChart({ client: direct(), repository, files: readChartFiles(EXAMPLE_CHART) })
    const wrong = `sha256:${"0".repeat(64)}`
    const said = await refusal(resolveChart(direct(), ref(registry.host, `${repository}:0.2.0@${wrong}`)))
    expect(said).toContain(`is ${published.digest} in the registry, not ${wrong}`)
    expect(await refusal(resolveChart(direct(), ref(registry.host, `${repository}@${wrong}`)))).toContain(
      "no manifest with that digest",
    )
    expect(await refusal(resolveChart(direct(), ref(registry.host, `${repository}:9.9.9`)))).toContain(
      "no chart version 9.9.9 there",
    )

    // Someone moves the tag by hand with real helm push (Helm overwrites a tag).
    const helm = helmHome()
    const changed = copyChart(EXAMPLE_CHART, { "values.yaml": "global:\n  imagePullSecrets: []\n" })
    helm.ok(["package", changed, "-d", helm.home])
    const pushed = helm.said([
      "push",
      join(helm.home, "meetinity-0.2.0.tgz"),
      `oci://${registry.host}/${repository.replace(/\/meetinity$/, "")}`,
      "--plain-http",
    ])
    const moved = /Digest: (sha256:[0-9a-f]{64})/.exec(pushed)![1]!
    expect(
      await refusal(resolveChart(direct(), ref(registry.host, `${repository}:0.2.0@${published.digest}`))),
    ).toContain(`is ${moved} in the registry, not ${published.digest}`)
    const old = await pullChart(direct(), ref(registry.host, `${repository}@${published.digest}`))
    expect(Buffer.from(old.files.find((f) => f.path === "values.yaml")!.contents).toString()).toBe(
      readFileSync(join(EXAMPLE_CHART, "values.yaml"), "utf8"),
    )
    // A chart Helm pushed is pulled the same way: Helm's own tarball, unpacked.
    const theirs = await pullChart(direct(), ref(registry.host, `${repository}:0.2.0`))
    expect(theirs.chart.digest).toBe(moved)
    expect(Buffer.from(theirs.files.find((f) => f.path === "values.yaml")!.contents).toString()).toBe(
      "global:\n  imagePullSecrets: []\n",
    )
  })

  test("(e) what is not a Helm chart, or not this chart, is refused", async () => {
    const image = await new OciPusher(registry.url).image("pull0/charts/meetinity", "an image", { tag: "1.0.0" })
    expect(await refusal(resolveChart(direct(), ref(registry.host, "pull0/charts/meetinity:1.0.0")))).toContain(
      `(${image.digest}) is not a Helm chart: its manifest is application/vnd.oci.image.manifest.v1+json with config application/vnd.oci.image.config.v1+json`,
    )
    // The example chart put under another name's path by hand: its name is not the path's.
    const chart = packageChart(readChartFiles(EXAMPLE_CHART))
    for (const blob of [chart.config, chart.layer]) await direct().uploadBlob("pull0/charts/gateway", blob.bytes)
    await direct().putManifest("pull0/charts/gateway", "0.2.0", {
      mediaType: chart.manifest.mediaType,
      body: chart.manifest.bytes,
    })
    expect(await refusal(resolveChart(direct(), ref(registry.host, "pull0/charts/gateway:0.2.0")))).toContain(
      'holds chart "meetinity", not "gateway" as its path says',
    )
  })

  test("(e) binary files (a .tgz subchart, an image) survive: base64 for Dagger, the same bytes for Helm", async () => {
    const repository = freshRepository()
    const helm = helmHome()
    // The event-service subchart vendored as a .tgz, as `helm dependency build` leaves it; a PNG beside.
    helm.ok(["package", join(EXAMPLE_CHART, "charts", "event-service"), "-d", helm.home])
    const vendored = readFileSync(join(helm.home, "event-service-0.1.0.tgz"))
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00, 0xfe])
    const dir = copyChart(EXAMPLE_CHART, { "charts/event-service-0.1.0.tgz": vendored, "files/logo.png": png })
    rmSync(join(dir, "charts", "event-service"), { recursive: true })
    const files = readChartFiles(dir)
    const published = await publishChart({ client: direct(), repository, files })
    const { files: pulled } = await pullChart(direct(), ref(registry.host, `${repository}:0.2.0@${published.digest}`))
    const entries = directoryEntries(pulled)
    expect(
      entries
        .filter((e) => e.encoding === "base64")
        .map((e) => e.path)
        .sort(),
    ).toEqual(["charts/event-service-0.1.0.tgz", "files/logo.png"])
    expect(Buffer.from(entries.find((e) => e.path === "files/logo.png")!.contents, "base64")).toEqual(png)
    const at = writeChartFiles(pulled)
    const render = (chart: string) =>
      helm.ok([
        "template",
        "meetinity",
        chart,
        ...IMAGE,
        "--set",
        "event-service.image.repository=x",
        "--set",
        "event-service.image.tag=v1",
      ])
    expect(render(at)).toBe(render(EXAMPLE_CHART))

    // helm package unpacks the .tgz subchart into charts/event-service/: still the same chart.
    helm.ok(["package", dir, "-d", join(helm.home, "packaged")])
    const other = freshRepository()
    const pushed = helm.said([
      "push",
      join(helm.home, "packaged", "meetinity-0.2.0.tgz"),
      `oci://${registry.host}/${other.replace(/\/meetinity$/, "")}`,
      "--plain-http",
    ])
    const helmDigest = /Digest: (sha256:[0-9a-f]{64})/.exec(pushed)![1]!
    expect(await publishChart({ client: direct(), repository: other, files })).toMatchObject({
      digest: helmDigest,
      pushed: false,
    })

    // The Directory the deploy hands Helm: text files as they are, binary ones decoded in one run of the Helm image.
    recorder = await recordDagger(() => undefined)
    await chartDirectory(entries).id()
    const newFiles = recorder.calls("withNewFile").map((c) => argValue(c.args, "path"))
    expect(newFiles).toEqual(expect.arrayContaining(["Chart.yaml", "values.yaml", "0.b64", "1.b64"]))
    const exec = argValue(recorder.calls("withExec")[0]!.args, "args") as string[]
    expect(exec.slice(0, 2)).toEqual(["sh", "-c"])
    expect(exec.slice(4)).toEqual([
      "/encoded/0.b64",
      `/chart/${entries.filter((e) => e.encoding === "base64")[0]!.path}`,
      "/encoded/1.b64",
      `/chart/${entries.filter((e) => e.encoding === "base64")[1]!.path}`,
    ])
    expect(recorder.calls("from").map((c) => argValue(c.args, "address"))).toEqual(["alpine/helm:4.1.4"])
  })

  test("the chart Directory's files are read as bytes: tarred by busybox (as alpine/helm has it), base64, read back", async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0x00])
    const dir = copyChart(EXAMPLE_CHART, { [`docs/${"long-name/".repeat(14)}x.md`]: "deep\n", "files/logo.png": png })
    const bin = mkdtempSync(join(tmpdir(), "busybox-"))
    // busybox-static, which .ci/run installs for the test images.
    const busybox = ["/usr/bin/busybox", "/bin/busybox"].find((path) => existsSync(path))!
    for (const tool of ["sh", "tar", "gzip", "base64"]) symlinkSync(busybox, join(bin, tool))
    recorder = await recordDagger((query) => {
      if (query.leaf !== "stdout") return undefined
      const args = argValue(query.chain.find((c) => c.field === "withExec")!.args, "args") as string[]
      return execFileSync(join(bin, "sh"), ["-c", args[2]!.replace("/chart", dir)], { env: { PATH: bin } }).toString()
    })
    const files = await chartFilesOf(dag.directory())
    const expected = readChartFiles(dir)
    expect(files.map((f) => f.path).sort()).toEqual(expected.map((f) => f.path).sort())
    for (const file of expected)
      expect(Buffer.from(files.find((f) => f.path === file.path)!.contents), file.path).toEqual(file.contents)
    expect(packageChart(files).manifest.digest).toBe(packageChart(expected).manifest.digest)
  })

  test("(f) through a ghcr-style token front: the reader's credentials pull, real helm logs in and pulls, a wrong token is refused without showing it", async () => {
    const repository = freshRepository()
    const published = await publishChart({ client: writerClient(), repository, files: readChartFiles(EXAMPLE_CHART) })
    expect(published.pushed).toBe(true)
    expect(writer.log.some((r) => r.auth === "Bearer" && r.method === "PUT")).toBe(true)

    const { chart } = await pullChart(readerClient(), ref(reader.host, `${repository}:0.2.0`))
    expect(chart.digest).toBe(published.digest)
    const said = await refusal(pullChart(readerClient("ghp_wrong"), ref(reader.host, `${repository}:0.2.0`)))
    expect(said).toMatch(/answered 401.*refused the user name or token|refused the user name or token/)
    expect(said).not.toContain("ghp_wrong")
    const anonymous = new RegistryClient({ scheme: "http", host: reader.host }, undefined, { msPerSecond: 10 })
    expect(await refusal(resolveChart(anonymous, ref(reader.host, `${repository}:0.2.0`)))).toContain("401")

    // Real Helm, logged in as the reader, pulls what the module published.
    const helm = helmHome()
    await helm.saidAsync(
      ["registry", "login", reader.host, "--username", "reader-bot", "--password-stdin", "--plain-http"],
      "ghp_reader",
    )
    const pulled = await helm.saidAsync([
      "pull",
      `oci://${reader.host}/${repository}`,
      "--version",
      "0.2.0",
      "--plain-http",
      "-d",
      helm.home,
    ])
    expect(pulled).toContain(`Digest: ${published.digest}`)
  })
})
