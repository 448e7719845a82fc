/**
 * A chart by reference, for a deploy: resolved to its digest with the reader's credentials (the
 * preflight of a chart: a version the registry does not have, a digest that is not the version's,
 * or something that is not a Helm chart is refused before anything runs), then its layer fetched
 * by digest through the module's registry client (every byte checked against its digest) and
 * unpacked as Helm unpacks it. Helm is then given a plain directory: no registry login, no
 * credentials and no Helm registry config in its container, and the chart deployed is exactly
 * the digest the report names.
 */
import { Steps } from "../common/steps.js"
import { RegistryClient } from "../oci/client.js"
import { type Manifest, type RegistryCredentials, RegistryError } from "../oci/manifest.js"
import { archiveFiles } from "./compare.js"
import {
  type ChartFile,
  HELM_CHART_LAYER_MEDIA_TYPE,
  HELM_CONFIG_MEDIA_TYPE,
  HELM_LEGACY_LAYER_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
} from "./package.js"
import { type ChartReference, chartTag, formatChartReference } from "./reference.js"

/** The chart steps, as spans and records (the vocabulary of common/steps.ts, for charts). */
export const CHART_STEP = {
  package: "package chart",
  readRegistry: "read chart version",
  push: "push chart",
  resolve: "resolve chart",
  pull: "pull chart",
} as const

/** A chart version found in its registry. */
export interface ResolvedChart {
  /** `oci://<host>/<repository>:<version>@<digest>`: pinned, for the report. */
  readonly reference: string
  readonly repository: string
  readonly digest: string
  /** The chart's name and version, from its config (Chart.yaml). */
  readonly name: string
  readonly version: string
  readonly manifest: ChartManifest
}

/** A chart's manifest: the digests and media types of its config and layers. */
export interface ChartManifest extends Manifest {
  readonly config: { readonly mediaType: string; readonly digest: string }
  readonly layers: readonly { readonly mediaType: string; readonly digest: string; readonly size: number }[]
}

/**
 * The chart a reference names, resolved in its registry: the version's tag read (and, when the
 * reference is pinned too, checked to be that digest), the manifest read by digest and checked to
 * be a Helm chart of this name and version.
 */
export async function resolveChart(client: RegistryClient, ref: ChartReference): Promise<ResolvedChart> {
  const shown = formatChartReference(ref)
  let digest = ref.digest
  if (ref.version !== undefined) {
    const head = await client.resolve(ref.repository, chartTag(ref.version))
    const unpinned = formatChartReference({ ...ref, digest: undefined })
    if (!head)
      throw new RegistryError(
        `${unpinned} is not in the registry: no chart version ${ref.version} there (publish the chart first, or check the version in Chart.yaml)`,
        404,
      )
    if (ref.digest && head.digest !== ref.digest)
      throw new RegistryError(
        `${unpinned} is ${head.digest} in the registry, not ${ref.digest} as ${shown} pins it: refusing to deploy a chart that is not the one pinned`,
      )
    digest = head.digest
  } else if (!(await client.resolve(ref.repository, digest!)))
    throw new RegistryError(`${shown} is not in the registry: no manifest with that digest`, 404)
  const manifest = await readChartManifest(client, ref.repository, digest!, shown)
  const configBytes = await client.blob(ref.repository, manifest.config.digest)
  let config: { name?: unknown; version?: unknown }
  try {
    config = JSON.parse(Buffer.from(configBytes).toString("utf8")) as typeof config
  } catch {
    throw new RegistryError(`${shown}: its config ${manifest.config.digest} is not JSON: it is not a Helm chart`)
  }
  const name = typeof config.name === "string" ? config.name : ""
  const version = typeof config.version === "string" ? config.version : ""
  if (name !== ref.name)
    throw new RegistryError(
      `${shown} holds chart ${JSON.stringify(name)}, not ${JSON.stringify(ref.name)} as its path says`,
    )
  if (ref.version !== undefined && version !== ref.version)
    throw new RegistryError(`${shown} holds version ${JSON.stringify(version)} of the chart, not ${ref.version}`)
  return {
    reference: formatChartReference({ host: ref.host, repository: ref.repository, version, digest: digest! }),
    repository: ref.repository,
    digest: digest!,
    name,
    version,
    manifest,
  }
}

/**
 * pullChart: resolves the reference, then fetches the chart's layer by digest and unpacks it as
 * Helm does (the chart's own directory dropped): the chart's files, relative to its root.
 */
export async function pullChart(
  client: RegistryClient,
  ref: ChartReference,
  steps = new Steps(),
): Promise<{ readonly chart: ResolvedChart; readonly files: ChartFile[] }> {
  const attributes = { "helm.chart.reference": formatChartReference(ref) }
  const chart = await steps.run(
    CHART_STEP.resolve,
    { attributes, result: (c) => ({ detail: c.reference, attributes: { "oci.manifest.digest": c.digest } }) },
    () => resolveChart(client, ref),
  )
  const files = await steps.run(
    CHART_STEP.pull,
    { attributes, result: (f) => ({ detail: `${f.length} files`, attributes: { "helm.chart.files": f.length } }) },
    async () => {
      const layer = await chartLayer(client, ref.repository, chart.manifest, chart.reference)
      return [...archiveFiles(layer, chart.reference)].map(([path, contents]) => ({ path, contents }))
    },
  )
  return { chart, files }
}

/** The registry client a chart reference is read with: its registry, with the reader's credentials when given. */
export function chartClient(ref: ChartReference, credentials?: RegistryCredentials): RegistryClient {
  return new RegistryClient(ref.endpoint, credentials)
}

/** A manifest read by digest that must be a Helm chart: an OCI image manifest with Helm's config media type. */
export async function readChartManifest(
  client: RegistryClient,
  repository: string,
  digest: string,
  reference: string,
): Promise<ChartManifest> {
  const manifest = await client.manifest(repository, digest)
  const json = JSON.parse(Buffer.from(manifest.body).toString("utf8")) as Partial<ChartManifest>
  const configType = json.config?.mediaType
  if (
    (manifest.mediaType !== OCI_MANIFEST_MEDIA_TYPE && manifest.mediaType !== "") ||
    configType !== HELM_CONFIG_MEDIA_TYPE ||
    !Array.isArray(json.layers)
  )
    throw new RegistryError(
      `${reference} (${digest}) is not a Helm chart: its manifest is ${manifest.mediaType || "without a media type"} with config ${configType ?? "none"}, expected ${OCI_MANIFEST_MEDIA_TYPE} with config ${HELM_CONFIG_MEDIA_TYPE}`,
    )
  return { ...manifest, config: json.config!, layers: json.layers }
}

/** The chart layer's bytes (Helm's media type, or its legacy one), fetched by digest and checked. */
export async function chartLayer(
  client: RegistryClient,
  repository: string,
  manifest: ChartManifest,
  reference: string,
): Promise<Uint8Array> {
  const layer =
    manifest.layers.find((l) => l.mediaType === HELM_CHART_LAYER_MEDIA_TYPE) ??
    manifest.layers.find((l) => l.mediaType === HELM_LEGACY_LAYER_MEDIA_TYPE)
  if (!layer)
    throw new RegistryError(`${reference} has no chart layer (${HELM_CHART_LAYER_MEDIA_TYPE}): it is not a Helm chart`)
  return client.blob(repository, layer.digest)
}

/** A file for a Dagger Directory: text as it is; other bytes in base64, decoded in a container. */
export interface DirectoryEntry {
  readonly path: string
  readonly contents: string
  readonly encoding: "utf8" | "base64"
}

/**
 * How each file goes into a Directory (`withNewFile` takes a string): valid UTF-8 as text (which
 * writes the same bytes back), anything else (a `.tgz` subchart, an image) as base64 to decode.
 */
export function directoryEntries(files: readonly ChartFile[]): DirectoryEntry[] {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
  return files.map((file) => {
    if (typeof file.contents === "string") return { path: file.path, contents: file.contents, encoding: "utf8" }
    try {
      return { path: file.path, contents: decoder.decode(file.contents), encoding: "utf8" }
    } catch {
      return { path: file.path, contents: Buffer.from(file.contents).toString("base64"), encoding: "base64" }
    }
  })
}
