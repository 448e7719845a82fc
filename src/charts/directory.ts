/**
 * A pulled chart as a Dagger Directory for Helm: each text file written with `withNewFile`; the
 * other files (a `.tgz` subchart, an image), which a GraphQL string cannot carry as bytes, written
 * in base64 and decoded with `base64 -d` in one run of the Helm image the deploy uses anyway (no
 * secret, no network). Thin: the choices are in pull.ts `directoryEntries`.
 */
import { dag, type Directory } from "@dagger.io/dagger"

import { HELM_IMAGE } from "../delivery/cluster.js"
import { type DirectoryEntry } from "./pull.js"

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
