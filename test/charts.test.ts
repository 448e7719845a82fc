/**
 * Charts by reference against real programs: a real CNCF distribution registry (Debian's
 * docker-registry) and real Helm 4.1.4. The module publishes the example umbrella chart; Helm
 * pulls, shows and renders it; a second publish writes nothing; another chart under the same
 * version is refused; a chart first pushed by `helm package` + `helm push` is the same chart.
 */
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, test } from "vitest"

import { type PublishedChart, publishChart } from "../src/charts/publish.js"
import { packageChart } from "../src/charts/package.js"
import { Steps } from "../src/common/steps.js"
import { RegistryClient } from "../src/oci/client.js"
import { copyChart, EXAMPLE_CHART, helmHome, readChartFiles, withVersion } from "./support/charts.js"
import { startRegistry, type RunningRegistry } from "./support/registry.js"
import { startTokenRegistry, type TokenRegistry } from "./support/token-registry.js"

let registry: RunningRegistry
let front: TokenRegistry
beforeAll(async () => {
  // Upload locations relative to the registry (as ghcr.io answers them), so pushes pass the front too.
  process.env.REGISTRY_HTTP_RELATIVEURLS = "true"
  registry = await startRegistry().finally(() => delete process.env.REGISTRY_HTTP_RELATIVEURLS)
  // A front that lets anyone through with the right password: its log shows every request.
  front = await startTokenRegistry(registry.url, { username: "Meetinity", password: "ghp_writer" })
})
afterAll(async () => {
  await front?.stop()
  await registry?.stop()
})

let owners = 0
/** A fresh `<owner>/charts/meetinity` for each test. */
const freshRepository = () => `owner${++owners}/charts/meetinity`
const client = () => new RegistryClient({ scheme: "http", host: registry.host })
const frontClient = () =>
  new RegistryClient({ scheme: "http", host: front.host }, { username: "Meetinity", password: "ghp_writer" })
const publish = (repository: string, dir = EXAMPLE_CHART, c = client(), steps?: Steps): Promise<PublishedChart> =>
  publishChart({ client: c, repository, files: readChartFiles(dir) }, steps)

/** Values that make the example chart render the api-gateway's Deployment. */
const IMAGE = [
  "--set",
  "api-gateway.image.repository=ghcr.io/meetinity/api-gateway",
  "--set",
  "api-gateway.image.tag=v1.4.2",
  "--set",
  `api-gateway.image.digest=sha256:${"a".repeat(64)}`,
]

describe("publishChart", () => {
  test("(a) publishes the example chart as <name>:<version>; real helm pulls it, renders it and shows the same Chart.yaml", async () => {
    const repository = freshRepository()
    const steps = new Steps()
    const published = await publish(repository, EXAMPLE_CHART, client(), steps)
    expect(published).toMatchObject({ name: "meetinity", version: "0.2.0", pushed: true })
    expect(steps.records.map((r) => [r.step, r.state])).toEqual([
      ["package chart", "done"],
      ["read chart version", "done"],
      ["push chart", "done"],
    ])
    expect(steps.records[2]!.detail).toBe(published.digest)
    expect(published.reference).toBe(`oci://${registry.host}/${repository}:0.2.0@${published.digest}`)

    const helm = helmHome()
    const oci = `oci://${registry.host}/${repository}`
    const pulled = helm.said(["pull", oci, "--version", "0.2.0", "--plain-http", "-d", helm.home])
    expect(pulled).toContain(`Digest: ${published.digest}`)
    const archive = join(helm.home, "meetinity-0.2.0.tgz")
    const rendered = helm.ok(["template", "meetinity", archive, "--namespace", "meetinity-dev", ...IMAGE])
    expect(rendered).toContain(`image: "ghcr.io/meetinity/api-gateway:v1.4.2@sha256:${"a".repeat(64)}"`)
    expect(rendered).toBe(helm.ok(["template", "meetinity", EXAMPLE_CHART, "--namespace", "meetinity-dev", ...IMAGE]))
    const shown = helm.ok(["show", "chart", oci, "--version", "0.2.0", "--plain-http"])
    expect(shown).toBe(helm.ok(["show", "chart", EXAMPLE_CHART]))
    expect(shown).toContain("name: meetinity")
    // The per-namespace values file of the chart travels with it.
    expect(helm.ok(["show", "values", archive])).toBe(helm.ok(["show", "values", EXAMPLE_CHART]))
  })

  test("(a) writes the config and the manifest helm push writes, byte for byte but the created time and the tarball", async () => {
    const repository = freshRepository()
    const helm = helmHome()
    helm.ok(["package", EXAMPLE_CHART, "-d", helm.home])
    const pushed = helm.said([
      "push",
      join(helm.home, "meetinity-0.2.0.tgz"),
      `oci://${registry.host}/${repository.replace(/\/meetinity$/, "")}`,
      "--plain-http",
    ])
    const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(pushed)![1]!
    const theirs = await client().manifest(repository, digest)
    const json = JSON.parse(Buffer.from(theirs.body).toString()) as {
      config: { digest: string }
      layers: { digest: string; size: number }[]
      annotations: Record<string, string>
    }
    const ours = packageChart(readChartFiles(EXAMPLE_CHART), {
      created: json.annotations["org.opencontainers.image.created"]!,
    })
    // The config blob: Helm's json.Marshal of Chart.yaml's metadata, identical.
    expect(Buffer.from(await client().blob(repository, json.config.digest)).toString()).toBe(
      Buffer.from(ours.config.bytes).toString(),
    )
    expect(ours.config.digest).toBe(json.config.digest)
    // The manifest: identical once the layer (a tarball of its own making) is Helm's.
    const layer = json.layers[0]!
    const mine = Buffer.from(ours.manifest.bytes)
      .toString()
      .replace(ours.layer.digest, layer.digest)
      .replace(`"size":${ours.layer.bytes.length}`, `"size":${layer.size}`)
    expect(mine).toBe(Buffer.from(theirs.body).toString())
    expect(theirs.mediaType).toBe("application/vnd.oci.image.manifest.v1+json")
  })

  test("(b) publishing again is idempotent: the same digest, nothing written", async () => {
    const repository = freshRepository()
    const first = await publish(repository, EXAMPLE_CHART, frontClient())
    front.log.length = 0
    const steps = new Steps()
    const again = await publish(repository, EXAMPLE_CHART, frontClient(), steps)
    expect(again).toEqual({ ...first, pushed: false })
    expect(steps.records.map((r) => r.step)).toEqual(["package chart", "read chart version"])
    const writes = front.log.filter((r) => r.method !== "GET" && r.method !== "HEAD")
    expect(writes).toEqual([])
    // The same content packaged again gives the same digests: the tarball is deterministic.
    const a = packageChart(readChartFiles(EXAMPLE_CHART))
    const b = packageChart([...readChartFiles(EXAMPLE_CHART)].reverse())
    expect(b.layer.digest).toBe(a.layer.digest)
    expect(b.manifest.digest).toBe(first.digest)
  })

  test("(c) the same version with other content is refused, naming both digests; the tag does not move", async () => {
    const repository = freshRepository()
    const first = await publish(repository)
    const changed = copyChart(EXAMPLE_CHART, { "values.yaml": "global:\n  imagePullSecrets: []\n" })
    const other = packageChart(readChartFiles(changed))
    const refusal = await publish(repository, changed).then(
      () => undefined,
      (error: Error) => error,
    )
    expect(refusal?.name).toBe("ChartRefusedError")
    expect(refusal?.message).toContain(first.digest)
    expect(refusal?.message).toContain(other.manifest.digest)
    expect(refusal?.message).toContain("changed values.yaml")
    expect(refusal?.message).toContain("Chart versions never move")
    expect((await client().resolve(repository, "0.2.0"))?.digest).toBe(first.digest)
    // Another version of it is published beside it.
    const next = await publishChart({
      client: client(),
      repository: { owner: repository.split("/")[0]!.toUpperCase() },
      files: readChartFiles(withVersion(changed, "0.2.1")),
    })
    expect(next).toMatchObject({ version: "0.2.1", pushed: true })
    expect(next.reference).toBe(`oci://${registry.host}/${repository}:0.2.1@${next.digest}`)
    expect((await client().tags(repository)).sort()).toEqual(["0.2.0", "0.2.1"])
  })

  test("(d) a chart first pushed by helm package + helm push is the same chart; a changed one is refused", async () => {
    const repository = freshRepository()
    const helm = helmHome()
    helm.ok(["package", EXAMPLE_CHART, "-d", helm.home])
    const pushed = helm.said([
      "push",
      join(helm.home, "meetinity-0.2.0.tgz"),
      `oci://${registry.host}/${repository.replace(/\/meetinity$/, "")}`,
      "--plain-http",
    ])
    const helmDigest = /Digest: (sha256:[0-9a-f]{64})/.exec(pushed)![1]!
    // Helm's tarball is not ours (its Chart.yaml files are rewritten, its times are the files'):
    expect(packageChart(readChartFiles(EXAMPLE_CHART)).manifest.digest).not.toBe(helmDigest)
    const same = await publish(repository)
    expect(same).toMatchObject({ digest: helmDigest, pushed: false })
    expect(same.reference).toBe(`oci://${registry.host}/${repository}:0.2.0@${helmDigest}`)

    // A Chart.yaml that reads the same to Helm (other layout, a field Helm does not know) is the same chart.
    const reworded = copyChart(EXAMPLE_CHART)
    const chartYaml = readChartFiles(reworded)
      .find((f) => f.path === "Chart.yaml")!
      .contents.toString()
    const relaid = copyChart(EXAMPLE_CHART, { "Chart.yaml": `# a comment\nunknownField: x\n${chartYaml}` })
    expect(await publish(repository, relaid)).toMatchObject({ digest: helmDigest, pushed: false })

    const eventService = readChartFiles(reworded).find((f) => f.path === "charts/event-service/Chart.yaml")!
    // A template changed, a subchart's description changed, a file added: each is refused.
    for (const change of <Record<string, string>[]>[
      { "charts/api-gateway/templates/service.yaml": "# changed\n" },
      { "charts/event-service/Chart.yaml": `${eventService.contents.toString()}keywords: [events]\n` },
      { "templates/extra.yaml": "# more\n" },
    ]) {
      const refusal = await publish(repository, copyChart(EXAMPLE_CHART, change)).then(
        () => undefined,
        (error: Error) => error,
      )
      expect(refusal?.message, Object.keys(change)[0]).toContain(`already exists at ${helmDigest} with other content`)
    }
    expect((await client().resolve(repository, "0.2.0"))?.digest).toBe(helmDigest)
  })
})
