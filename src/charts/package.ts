/**
 * A chart directory as the OCI artifact `helm push` makes of it (helm.sh/helm/v4 pkg/registry):
 * the config is Chart.yaml as Helm's JSON (`application/vnd.cncf.helm.config.v1+json`), one layer
 * is the chart as a gzipped tar under `<name>/` (`application/vnd.cncf.helm.chart.content.v1.tar+gzip`),
 * and the OCI image manifest carries the annotations Helm derives from Chart.yaml. Pure.
 *
 * The files are chosen as `helm package` chooses them: `.helmignore` (Helm's rules, helmignore.ts)
 * and Helm's default `templates/.?*`, `charts/_*` and `charts/.*` left out, a UTF-8 BOM dropped,
 * Helm's size limits. Unlike `helm package`, the files keep their bytes (Helm rewrites Chart.yaml
 * from what it parsed, and unpacks `.tgz` subcharts): compare.ts reads both forms as one. The
 * tarball is deterministic (Chart.yaml first, then paths in order; mode 0644, uid/gid 0, mtime 0),
 * and so is the manifest when `created` is fixed (default: 1970-01-01T00:00:00Z): the same
 * content gives the same digests.
 */
import { check } from "../common/errors.js"
import { sha256Digest } from "../oci/manifest.js"
import { type ChartMetadata, parseChartYaml } from "./chartfile.js"
import { goJson, type GoMap, type GoValue } from "./gojson.js"
import { HelmIgnore } from "./helmignore.js"
import { chartTag } from "./reference.js"
import { MAX_CHART_BYTES, MAX_FILE_BYTES, readTarGz, type TarEntry, writeTarGz } from "./tar.js"

/** Helm's media types (pkg/registry/constants.go) and the OCI manifest's. */
export const HELM_CONFIG_MEDIA_TYPE = "application/vnd.cncf.helm.config.v1+json"
export const HELM_CHART_LAYER_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
export const HELM_LEGACY_LAYER_MEDIA_TYPE = "application/tar+gzip"
export const OCI_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"

/** One file of a chart directory, as the caller read it (a Dagger Directory's entries, for instance). */
export interface ChartFile {
  /** Relative to the chart's root, `/`-separated: `Chart.yaml`, `templates/deployment.yaml`. */
  readonly path: string
  readonly contents: Uint8Array | string
}

/** A blob of the artifact: its bytes, digest and media type. */
export interface Blob {
  readonly mediaType: string
  readonly digest: string
  readonly bytes: Uint8Array
}

/** The OCI artifact of a chart version. */
export interface ChartPackage {
  readonly metadata: ChartMetadata
  /** The OCI tag of the version (`+` written `_`, as Helm does). */
  readonly tag: string
  /** The chart's files, as packaged: relative paths, in the tarball's order. */
  readonly files: readonly TarEntry[]
  readonly config: Blob
  readonly layer: Blob
  readonly manifest: Blob
}

const UTF8_BOM = [0xef, 0xbb, 0xbf]

/** The chart's files as `helm package` would take them, in the tarball's order. */
export function selectChartFiles(files: readonly ChartFile[], argument = "chart"): TarEntry[] {
  const byPath = new Map<string, Uint8Array>()
  for (const file of files) {
    const path = file.path.replace(/^(\.\/)+/, "")
    check(
      path !== "" &&
        !path.startsWith("/") &&
        !path.includes("\\") &&
        !path.split("/").some((p) => p === ".." || p === "." || p === ""),
      argument,
      file.path,
      "is not a path inside the chart: expected a relative path without .., . or empty parts (e.g. templates/deployment.yaml)",
    )
    check(!byPath.has(path), argument, file.path, "is given twice")
    const bytes = typeof file.contents === "string" ? Buffer.from(file.contents) : file.contents
    byPath.set(path, UTF8_BOM.every((b, i) => bytes[i] === b) ? bytes.subarray(3) : bytes)
  }
  check(
    byPath.has("Chart.yaml"),
    argument,
    [...byPath.keys()].slice(0, 5),
    "has no Chart.yaml at its root: expected a chart directory",
  )
  const helmignore = byPath.get(".helmignore")
  const rules = HelmIgnore.parse(helmignore && Buffer.from(helmignore).toString("utf8"), `${argument} .helmignore`)
  const kept = [...byPath]
    .filter(([path]) => !rules.excludes(path) && !/^charts\/[._]/.test(path))
    .sort(([a], [b]) => (a === "Chart.yaml" ? -1 : b === "Chart.yaml" ? 1 : a < b ? -1 : a > b ? 1 : 0))
  let total = 0
  for (const [path, data] of kept) {
    check(
      data.length <= MAX_FILE_BYTES,
      argument,
      path,
      `is ${data.length} bytes: Helm loads no chart file larger than ${MAX_FILE_BYTES} bytes (5 MiB)`,
    )
    total += data.length
    check(
      !/^charts\/[^/]+$/.test(path) || path.endsWith(".tgz") || path.endsWith(".prov"),
      argument,
      path,
      "is a file directly in charts/: Helm expects a subchart there (a directory or a .tgz archive); move it, or list it in .helmignore",
    )
    check(
      path !== "requirements.yaml" && path !== "requirements.lock",
      argument,
      path,
      "is Helm 2's dependency list: with apiVersion v2, dependencies go in Chart.yaml (and Chart.lock); remove it",
    )
  }
  check(
    total <= MAX_CHART_BYTES,
    argument,
    `${total} bytes`,
    `is more than Helm's limit for a chart (${MAX_CHART_BYTES} bytes)`,
  )
  return kept.map(([path, data]) => ({ path, data }))
}

/**
 * Builds the artifact Helm would push for a chart directory. Checks Chart.yaml (name, SemVer
 * version, apiVersion v2) and that every dependency it lists is a subchart in charts/.
 */
export function packageChart(
  files: readonly ChartFile[],
  options: { readonly created?: string; readonly argument?: string } = {},
): ChartPackage {
  const argument = options.argument ?? "chart"
  const created = options.created ?? "1970-01-01T00:00:00Z"
  check(
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(created),
    "created",
    created,
    "is not an RFC 3339 time (e.g. 2026-06-01T12:00:00Z)",
  )
  const selected = selectChartFiles(files, argument)
  const text = (path: string) => Buffer.from(selected.find((f) => f.path === path)!.data).toString("utf8")
  const metadata = parseChartYaml(text("Chart.yaml"), `${argument} Chart.yaml`)
  const subcharts = subchartNames(selected, argument)
  const missing = (metadata.dependencies ?? []).filter((d) => !subcharts.has(d.name)).map((d) => d.name)
  check(
    missing.length === 0,
    `${argument} Chart.yaml dependencies`,
    missing,
    `are not in charts/ (found ${[...subcharts].join(", ") || "none"}): vendor them (helm dependency build) before publishing, as helm package requires`,
  )
  const layerBytes = writeTarGz(selected.map((f) => ({ path: `${metadata.name}/${f.path}`, data: f.data })))
  const config = blob(HELM_CONFIG_MEDIA_TYPE, Buffer.from(metadata.configJson))
  const layer = blob(HELM_CHART_LAYER_MEDIA_TYPE, layerBytes)
  const manifestJson = goJson(
    new Map<string, GoValue>([
      ["schemaVersion", 2],
      ["config", descriptor(config)],
      ["layers", [descriptor(layer)]],
      ["annotations", chartAnnotations(metadata, created)],
    ]),
  )
  return {
    metadata,
    tag: chartTag(metadata.version),
    files: selected,
    config,
    layer,
    manifest: blob(OCI_MANIFEST_MEDIA_TYPE, Buffer.from(manifestJson)),
  }
}

function blob(mediaType: string, bytes: Uint8Array): Blob {
  return { mediaType, digest: sha256Digest(bytes), bytes }
}

const descriptor = (b: Blob) =>
  new Map<string, GoValue>([
    ["mediaType", b.mediaType],
    ["digest", b.digest],
    ["size", b.bytes.length],
  ])

/**
 * The manifest annotations Helm writes (pkg/registry/chart.go `generateOCIAnnotations`): the
 * OCI description, title (name), version, url (home), created, source (first of sources) and
 * authors (maintainers as `name (email)`), each only when not blank; then the chart's own
 * annotations, which may override all but title and version.
 */
export function chartAnnotations(metadata: ChartMetadata, created: string): GoMap {
  const out: Record<string, string> = {}
  const add = (key: string, value: string | undefined) => {
    if (value !== undefined && value.trim() !== "") out[key] = value
  }
  const oci = "org.opencontainers.image"
  add(`${oci}.description`, metadata.description)
  add(`${oci}.title`, metadata.name)
  add(`${oci}.version`, metadata.version)
  add(`${oci}.url`, metadata.home)
  add(`${oci}.created`, created)
  add(`${oci}.source`, metadata.sources?.[0])
  if (metadata.maintainers && metadata.maintainers.length > 0)
    add(
      `${oci}.authors`,
      metadata.maintainers.map((m) => `${m.name ?? ""}${m.email ? ` (${m.email})` : ""}`).join(", "),
    )
  for (const [key, value] of Object.entries(metadata.annotations ?? {}))
    if (key !== `${oci}.title` && key !== `${oci}.version`) out[key] = value
  return out
}

/** The names of the subcharts in charts/: a directory's Chart.yaml name, or a `.tgz`'s. */
export function subchartNames(files: readonly TarEntry[], argument: string): Set<string> {
  const names = new Set<string>()
  for (const file of files) {
    const dir = /^charts\/([^/]+)\/Chart\.yaml$/.exec(file.path)
    if (dir)
      names.add(
        parseChartYaml(Buffer.from(file.data).toString("utf8"), `${argument} ${file.path}`, { anyApiVersion: true })
          .name,
      )
    else if (/^charts\/[^/]+\.tgz$/.test(file.path)) {
      const inner = readTarGz(file.data, `${argument} ${file.path}`).find((e) => /^[^/]+\/Chart\.yaml$/.test(e.path))
      check(inner !== undefined, argument, file.path, "is not a chart archive: it has no <name>/Chart.yaml")
      names.add(
        parseChartYaml(Buffer.from(inner!.data).toString("utf8"), `${argument} ${file.path}`, { anyApiVersion: true })
          .name,
      )
    }
  }
  return names
}
