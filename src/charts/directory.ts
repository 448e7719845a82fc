/**
 * A chart directory to and from Dagger. To publish: its files read as bytes (`File.contents`
 * is a string, which would spoil a `.tgz` subchart), by packing the Directory with tar in one run
 * of the Helm image and reading the archive back. To deploy: a pulled chart as a Directory for Helm: each text file written with `withNewFile`; the
 * other files (a `.tgz` subchart, an image), which a GraphQL string cannot carry as bytes, written
 * in base64 and decoded with `base64 -d` in one run of the Helm image the deploy uses anyway (no
 * secret, no network). Thin: the choices are in pull.ts `directoryEntries`.
 */
import { dag, type Directory } from "@dagger.io/dagger"

import { HELM_IMAGE } from "../engine/images.js"
import { type ChartFile } from "./package.js"
import { type DirectoryEntry } from "./pull.js"
import { readTarGz } from "./tar.js"

/** A chart directory read whole: a generous bound (Helm's limits apply to what .helmignore keeps). */
const SOURCE_LIMITS = { file: 512 * 1024 * 1024, total: 512 * 1024 * 1024 }

/**
 * The files of a chart Directory, with their bytes: tarred and base64-encoded in a container
 * (stdout is a string), decoded here. A link in the directory is refused by the reader.
 */
export async function chartFilesOf(chart: Directory, image = HELM_IMAGE): Promise<ChartFile[]> {
  const packed = await dag
    .container()
    .from(image)
    .withDirectory("/chart", chart)
    .withExec(["sh", "-c", "cd /chart && tar -czf - . | base64"])
    .stdout()
  return readTarGz(Buffer.from(packed, "base64"), "the chart directory", SOURCE_LIMITS)
    .map((entry) => ({ path: entry.path.replace(/^(\.\/)+/, ""), contents: entry.data }))
    .filter((file) => file.path !== "" && file.path !== ".")
}

/** Decodes `<in> <out>` pairs given as arguments: no path is ever put inside the script. */
const DECODE = 'set -e; while [ "$#" -gt 0 ]; do mkdir -p "$(dirname "$2")"; base64 -d < "$1" > "$2"; shift 2; done'

/** The chart's files as a Directory (its root is the chart's root). */
export function chartDirectory(entries: readonly DirectoryEntry[], image = HELM_IMAGE): Directory {
  const text = entries.filter((e) => e.encoding === "utf8")
  const binary = entries.filter((e) => e.encoding === "base64")
  const directory = text.reduce((dir, e) => dir.withNewFile(e.path, e.contents), dag.directory())
  if (binary.length === 0) return directory
  const encoded = binary.reduce((dir, e, i) => dir.withNewFile(`${i}.b64`, e.contents), dag.directory())
  return dag
    .container()
    .from(image)
    .withDirectory("/chart", directory)
    .withDirectory("/encoded", encoded)
    .withExec(["sh", "-c", DECODE, "decode", ...binary.flatMap((e, i) => [`/encoded/${i}.b64`, `/chart/${e.path}`])])
    .directory("/chart")
}
