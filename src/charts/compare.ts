/**
 * Is a chart version in the registry the same chart as a directory? Both are read as Helm loads
 * them, and compared file by file, path and bytes, tar metadata ignored: a chart that real
 * `helm package` + `helm push` made of the same directory is the same chart, though its tarball
 * differs (Helm rewrites every Chart.yaml and Chart.lock from what it parsed, and unpacks `.tgz`
 * subcharts under `charts/<name>/`). So Chart.yaml and Chart.lock are compared as Helm's JSON of
 * them, and subcharts by their names, expanded. Pure.
 */
import { posix } from "node:path"

import { lockJson, parseChartYaml } from "./chartfile.js"
import { ChartArchiveError, readTarGz, type TarEntry } from "./tar.js"

/**
 * The files of a chart archive as Helm's loader takes them (pkg/chart/loader/archive): the first
 * path part (the chart's directory) dropped, paths cleaned, a UTF-8 BOM dropped; absolute paths,
 * `..`, and a Chart.yaml outside the chart's directory refused.
 */
export function archiveFiles(archive: Uint8Array, what = "the chart archive"): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>()
  for (const entry of readTarGz(archive, what)) {
    const delimiter = entry.path.includes("\\") ? "\\" : "/"
    const parts = entry.path.split(delimiter)
    if (parts[0] === "Chart.yaml") throw new ChartArchiveError(`${what}: Chart.yaml is not in the chart's directory`)
    const joined = parts.slice(1).join("/")
    if (posix.isAbsolute(joined)) throw new ChartArchiveError(`${what} holds an absolute path: ${entry.path}`)
    const path = posix.normalize(joined).replace(/\/$/, "")
    if (path === "." || path === "")
      throw new ChartArchiveError(`${what} holds a file outside the chart's directory: ${JSON.stringify(entry.path)}`)
    if (path.startsWith("..")) throw new ChartArchiveError(`${what} holds a path out of the chart: ${entry.path}`)
    if (/^[a-zA-Z]:\//.test(path)) throw new ChartArchiveError(`${what} holds a drive path: ${entry.path}`)
    const data = entry.data
    files.set(path, data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf ? data.subarray(3) : data)
  }
  if (files.size === 0) throw new ChartArchiveError(`${what} has no files`)
  return files
}

/**
 * A chart's content as Helm sees it, path -> bytes: Chart.yaml and Chart.lock as Helm's JSON,
 * subcharts under `charts/<their name>/` (a `.tgz` unpacked), `charts/_*` and `charts/.*` left
 * out, as Helm's loader leaves them.
 */
export function chartContent(files: ReadonlyMap<string, Uint8Array>, where = "the chart"): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>()
  const subcharts = new Map<string, Map<string, Uint8Array>>()
  const text = (data: Uint8Array) => Buffer.from(data).toString("utf8")
  for (const [path, data] of files) {
    if (path === "Chart.yaml")
      out.set(path, Buffer.from(parseChartYaml(text(data), `${where} Chart.yaml`, { anyApiVersion: true }).configJson))
    else if (path === "Chart.lock") out.set(path, Buffer.from(lockJson(text(data), `${where} Chart.lock`)))
    else if (path.startsWith("charts/") && !path.endsWith(".prov")) {
      const rest = path.slice("charts/".length)
      const name = rest.split("/")[0]!
      if (name.startsWith("_") || name.startsWith(".")) continue
      const group = subcharts.get(name) ?? new Map<string, Uint8Array>()
      subcharts.set(name, group)
      group.set(rest === name ? "" : rest.slice(name.length + 1), data)
    } else out.set(path, data)
  }
  for (const [entry, group] of subcharts) {
    const archive = group.get("")
    const sub = entry.endsWith(".tgz") && archive ? archiveFiles(archive, `${where} charts/${entry}`) : group
    sub.delete("")
    const content = chartContent(sub, `${where} charts/${entry}`)
    const chartYaml = content.get("Chart.yaml")
    const name = chartYaml ? (JSON.parse(text(chartYaml)) as { name?: string }).name || entry : entry
    for (const [path, data] of content) out.set(`charts/${name}/${path}`, data)
  }
  return out
}

/** What differs between two charts' content: paths only in one, and paths whose bytes differ. */
export interface ChartDifference {
  readonly added: readonly string[]
  readonly removed: readonly string[]
  readonly changed: readonly string[]
}

/**
 * Compares the chart in a registry (its layer, a gzipped tar) with the files to publish. No
 * difference: the same chart, whatever made its tarball.
 */
export function compareChart(existingLayer: Uint8Array, files: readonly TarEntry[]): ChartDifference {
  const existing = chartContent(archiveFiles(existingLayer, "the chart in the registry"), "the chart in the registry")
  const wanted = chartContent(new Map(files.map((f) => [f.path, f.data])), "the chart directory")
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0
  const sorted = (paths: Iterable<string>) => [...paths].sort()
  return {
    added: sorted([...wanted.keys()].filter((p) => !existing.has(p))),
    removed: sorted([...existing.keys()].filter((p) => !wanted.has(p))),
    changed: sorted([...wanted.keys()].filter((p) => existing.has(p) && !same(existing.get(p)!, wanted.get(p)!))),
  }
}

/** No file added, removed or changed. */
export const isSameChart = (d: ChartDifference): boolean =>
  d.added.length === 0 && d.removed.length === 0 && d.changed.length === 0

/** The difference in words, at most `limit` paths of each kind: `changed values.yaml; added templates/x.yaml`. */
export function describeDifference(d: ChartDifference, limit = 5): string {
  const list = (paths: readonly string[]) =>
    paths.slice(0, limit).join(", ") + (paths.length > limit ? ` and ${paths.length - limit} more` : "")
  return [
    d.changed.length > 0 ? `changed ${list(d.changed)}` : "",
    d.added.length > 0 ? `only in the directory ${list(d.added)}` : "",
    d.removed.length > 0 ? `only in the registry ${list(d.removed)}` : "",
  ]
    .filter(Boolean)
    .join("; ")
}
