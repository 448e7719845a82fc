/**
 * The rehearsal's chart goes the way a real one does: published to the rehearsal's registry
 * service (as `publishChart` publishes to ghcr.io), then deployed by reference, pulled by digest.
 * A chart given by reference is read from its registry first (anonymously: a public chart).
 */
import { Steps } from "../common/steps.js"
import { type ServiceNetwork } from "../engine/network.js"
import { RegistryClient } from "../oci/client.js"
import { type RegistryCredentials } from "../oci/manifest.js"
import { chartFilesOf } from "../charts/directory.js"
import { publishChart } from "../charts/publish.js"
import { chartClient, pullChart } from "../charts/pull.js"
import { parseChartReference } from "../charts/reference.js"
import { type ChartSource } from "../delivery/chart.js"
import { REHEARSAL_REGISTRY } from "./plan.js"

/** Where the rehearsal publishes charts in its registry: `rehearsal/charts/<name>`. */
const OWNER = "rehearsal"

/** Publishes the chart to the registry service; returns it as a reference pinned to its digest, named as the cluster's side names the registry. */
export async function publishRehearsalChart(
  source: ChartSource,
  network: ServiceNetwork,
  credentials: RegistryCredentials,
  steps: Steps,
): Promise<ChartSource & { kind: "reference" }> {
  const files =
    source.kind === "directory"
      ? await chartFilesOf(source.directory)
      : (await pullChart(chartClient(source.reference), source.reference, steps)).files
  const published = await publishChart(
    { client: new RegistryClient(network.registry!.endpoint, credentials), repository: { owner: OWNER }, files },
    steps,
  )
  return {
    kind: "reference",
    reference: parseChartReference(
      `oci://${REHEARSAL_REGISTRY}/${OWNER}/charts/${published.name}:${published.version}@${published.digest}`,
    ),
  }
}
