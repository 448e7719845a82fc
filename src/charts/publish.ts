/**
 * Publishing a chart to an OCI registry as `helm push` would (`<path>/<name>:<version>`), through
 * the module's one registry client. A version never moves: when its tag exists, the chart there
 * is read and compared with the directory (compare.ts); the same chart (whoever pushed it) is
 * left as it is and its digest returned, another one is refused, naming both digests.
 */
import { check } from "../common/errors.js"
import { Steps } from "../common/steps.js"
import { type RegistryClient } from "../oci/client.js"
import { RegistryError } from "../oci/manifest.js"
import { parseImageName } from "../oci/reference.js"
import { compareChart, describeDifference, isSameChart } from "./compare.js"
import { type ChartFile, type ChartPackage, packageChart } from "./package.js"
import { CHART_STEP, chartLayer, readChartManifest } from "./pull.js"
import { chartRepository, formatChartReference } from "./reference.js"

/** A publish refused: the version exists with other content. Nothing was written. */
export class ChartRefusedError extends RegistryError {
  override name = "ChartRefusedError"
}

export interface PublishChartInputs {
  /** A client of the registry, with credentials that may push. */
  readonly client: RegistryClient
  /**
   * Where the chart goes: `<owner>/charts/<name>`, whose last part must be the chart's name; or
   * `{ owner }`, for `<owner>/charts/<the name in Chart.yaml>` (the owner lower-cased).
   */
  readonly repository: string | { readonly owner: string }
  /** The chart directory's files. */
  readonly files: readonly ChartFile[]
  /** The manifest's `org.opencontainers.image.created` (default 1970-01-01T00:00:00Z, reproducible). */
  readonly created?: string
}

export interface PublishedChart {
  /** `oci://<host>/<repository>:<version>@<digest>`: what a deploy takes, pinned. */
  readonly reference: string
  readonly digest: string
  readonly name: string
  readonly version: string
  /** True when this call wrote the version; false when the registry had this chart already. */
  readonly pushed: boolean
}

/**
 * publishChart: packages the directory; if the version's tag is absent, uploads the blobs the
 * registry lacks, puts the manifest under the tag and reads the tag back; if present with the
 * same chart, returns its digest and writes nothing; else refuses.
 */
export async function publishChart(inputs: PublishChartInputs, steps = new Steps()): Promise<PublishedChart> {
  const { client } = inputs
  const chart = await steps.run(
    CHART_STEP.package,
    {
      result: (p) => ({
        detail: `${p.metadata.name} ${p.metadata.version}, ${p.files.length} files, layer ${p.layer.digest}`,
        attributes: { "helm.chart.name": p.metadata.name, "helm.chart.version": p.metadata.version },
      }),
    },
    async () => packageChart(inputs.files, inputs.created !== undefined ? { created: inputs.created } : {}),
  )
  const { name, version } = chart.metadata
  const repository =
    typeof inputs.repository === "string"
      ? parseImageName(inputs.repository, "repository")
      : chartRepository(inputs.repository.owner, name)
  check(
    repository.split("/").at(-1) === name,
    "repository",
    repository,
    `does not end with the chart's name ${JSON.stringify(name)}: Helm pulls a chart as <path>/<name>:<version> (e.g. meetinity/charts/${name})`,
  )
  const where = { host: client.endpoint.host, repository, version }
  const done = (digest: string, pushed: boolean): PublishedChart => ({
    reference: formatChartReference({ ...where, digest }),
    digest,
    name,
    version,
    pushed,
  })
  const attributes = { "helm.chart.name": name, "helm.chart.version": version }
  const existing = await steps.run(
    CHART_STEP.readRegistry,
    {
      attributes,
      result: (d) => ({ detail: d ? `${chart.tag} is ${d}` : `${chart.tag} is not there` }),
    },
    async () => (await client.resolve(repository, chart.tag))?.digest,
  )
  if (existing) {
    await refuseOther(client, chart, repository, existing, formatChartReference(where))
    return done(existing, false)
  }
  const digest = await steps.run(
    CHART_STEP.push,
    { attributes, result: (d) => ({ detail: d, attributes: { "oci.manifest.digest": d } }) },
    () => push(client, repository, chart),
  )
  return done(digest, true)
}

/** The version is there: the same chart, or a refusal naming both digests. */
async function refuseOther(
  client: RegistryClient,
  chart: ChartPackage,
  repository: string,
  existing: string,
  reference: string,
): Promise<void> {
  const manifest = await readChartManifest(client, repository, existing, reference)
  const layer = await chartLayer(client, repository, manifest, reference)
  const difference = compareChart(layer, chart.files)
  if (isSameChart(difference)) return
  throw new ChartRefusedError(
    `${reference} already exists at ${existing} with other content (${describeDifference(difference)}); this chart directory would be ${chart.manifest.digest}. ` +
      `Chart versions never move: raise the version in Chart.yaml and publish again. Nothing was written.`,
  )
}

/** Uploads the blobs the registry lacks, puts the manifest under the tag, and reads the tag back. */
async function push(client: RegistryClient, repository: string, chart: ChartPackage): Promise<string> {
  for (const blob of [chart.config, chart.layer])
    if (!(await client.hasBlob(repository, blob.digest))) await client.uploadBlob(repository, blob.bytes)
  const put = await client.putManifest(repository, chart.tag, {
    mediaType: chart.manifest.mediaType,
    body: chart.manifest.bytes,
  })
  const reference = formatChartReference({ host: client.endpoint.host, repository, version: chart.metadata.version })
  if (put !== chart.manifest.digest)
    throw new RegistryError(`${reference}: the registry stored the manifest as ${put}, not ${chart.manifest.digest}`)
  const back = await client.resolve(repository, chart.tag)
  if (back?.digest !== chart.manifest.digest)
    throw new RegistryError(
      `${reference} reads back as ${back?.digest ?? "nothing"} right after it was written as ${chart.manifest.digest}: another push of this version ran at the same time; look at the registry before publishing again`,
    )
  return chart.manifest.digest
}
