/**
 * publishChart, carried out: the arguments checked before anything is read, the chart
 * directory's files read as bytes, then published (publish.ts) with the writer's credentials.
 */
import { type Directory } from "@dagger.io/dagger"

import { check } from "../common/errors.js"
import { parseOwner, parseUsername } from "../common/names.js"
import { RegistryClient } from "../oci/client.js"
import { parseRegistry } from "../oci/reference.js"
import { chartFilesOf } from "./directory.js"
import { publishChart } from "./publish.js"

export interface ChartPublishArgs {
  readonly owner: string
  readonly username: string
  readonly registry: { scheme: "http" | "https"; host: string }
  readonly created?: string
}

/** Checks publishChart's arguments; `created` is an RFC 3339 time in UTC (a commit's time), or empty. */
export function parseChartPublishArgs(args: {
  owner: string
  username: string
  registry: string
  created: string
}): ChartPublishArgs {
  check(
    args.created === "" ||
      (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(args.created) && !Number.isNaN(Date.parse(args.created))),
    "created",
    args.created,
    "is not a time: expected an RFC 3339 time in UTC such as 2026-12-06T10:00:00Z (e.g. the commit's, git log -1 --format=%cI in UTC), or empty for 1970-01-01T00:00:00Z",
  )
  return {
    owner: parseOwner(args.owner),
    username: parseUsername(args.username),
    registry: parseRegistry(args.registry),
    ...(args.created ? { created: args.created } : {}),
  }
}

/** Publishes the chart directory as `<registry>/<owner>/charts/<name>:<version>`; returns its pinned reference. */
export async function publishChartDirectory(
  chart: Directory,
  args: ChartPublishArgs,
  password: string,
): Promise<string> {
  const client = new RegistryClient(args.registry, { username: args.username, password })
  const published = await publishChart({
    client,
    repository: { owner: args.owner },
    files: await chartFilesOf(chart),
    ...(args.created ? { created: args.created } : {}),
  })
  return published.reference
}
