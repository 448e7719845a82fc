/**
 * The chart a deploy takes: the directory given (a service repository's copy, as before), or one
 * published chart by reference (`oci://<registry>/<owner>/charts/<name>:<version>`), pulled by
 * digest with the reader credentials the deploy already has and given to Helm as a directory.
 * Values files are read from `--values-dir` when given (a service repository's
 * `infra/helm/values/`), else from the chart itself.
 */
import { type Container, type Directory, ExistsType } from "@dagger.io/dagger"

import { check, InvalidArgumentError } from "../common/errors.js"
import { Steps } from "../common/steps.js"
import { type RegistryCredentials, type RegistryEndpoint } from "../oci/manifest.js"
import { chartDirectory } from "../charts/directory.js"
import { chartClient, directoryEntries, pullChart } from "../charts/pull.js"
import { type ChartReference, parseChartReference } from "../charts/reference.js"
import { type HelmPlan } from "./inputs.js"
import { namespaceValuesFile, valuesFilesFor } from "./values.js"

/** Where Helm's container sees the chart, and the values directory when there is one. */
export const CHART_MOUNT = "/work/chart"
export const VALUES_MOUNT = "/work/values"

/** The chart as the arguments named it: a directory, or a reference. */
export type ChartSource =
  | { readonly kind: "directory"; readonly directory: Directory }
  | { readonly kind: "reference"; readonly reference: ChartReference }

/**
 * Reads `--chart` and `--chart-ref`: exactly one of them. A reference names a version, a digest or
 * both (oci://ghcr.io/meetinity/charts/meetinity:0.2.0).
 */
export function parseChartSource(chart: Directory | null | undefined, chartRef: string): ChartSource {
  if (chartRef !== "") {
    const reference = parseChartReference(chartRef, "chartRef")
    check(
      !chart,
      "chartRef",
      chartRef,
      "was given with --chart: expected one of them (--chart ./infra/helm/meetinity, a directory; or --chart-ref, a published chart)",
    )
    return { kind: "reference", reference }
  }
  if (!chart)
    throw new InvalidArgumentError(
      "chart",
      null,
      "is missing: expected --chart <directory> (e.g. ./infra/helm/meetinity) or --chart-ref oci://<registry>/<owner>/charts/<name>:<version>",
    )
  return { kind: "directory", directory: chart }
}

/** The chart ready for Helm: its directory, where its values files are read, and what the report names. */
export interface DeployChart {
  readonly directory: Directory
  /** The values directory given, or none: the values files are the chart's own. */
  readonly values?: Directory
  /** `oci://...:<version>@sha256:...` when the chart came by reference. */
  readonly reference?: string
}

/**
 * The chart, ready: a directory as it is; a reference resolved and pulled by digest (its own
 * steps), with the reader's credentials (none: anonymous) from `endpoint` (default: the
 * reference's registry; a rehearsal reaches its registry service elsewhere).
 */
export async function readyChart(
  source: ChartSource,
  values: Directory | undefined,
  options: { credentials?: RegistryCredentials; endpoint?: RegistryEndpoint; steps?: Steps } = {},
): Promise<DeployChart> {
  if (source.kind === "directory") return { directory: source.directory, ...(values ? { values } : {}) }
  const ref = options.endpoint ? { ...source.reference, endpoint: options.endpoint } : source.reference
  const pulled = await pullChart(chartClient(ref, options.credentials), ref, options.steps ?? new Steps())
  return {
    directory: chartDirectory(directoryEntries(pulled.files)),
    ...(values ? { values } : {}),
    reference: pulled.chart.reference,
  }
}

/** Helm's container with the chart (and the values directory, when there is one) mounted. */
export const withChart = (container: Container, chart: DeployChart): Container =>
  chart.values
    ? container.withDirectory(CHART_MOUNT, chart.directory).withDirectory(VALUES_MOUNT, chart.values)
    : container.withDirectory(CHART_MOUNT, chart.directory)

/**
 * The values files of one deploy, as paths in Helm's container, checked before any container
 * runs: every explicit one must be a file where values are read (the values directory, else the
 * chart); `values-<namespace>.yaml` is added first when it is there.
 */
export async function chartValuesFiles(chart: DeployChart, plan: HelmPlan): Promise<string[]> {
  const [where, mount, inside, relativeTo] = chart.values
    ? [chart.values, VALUES_MOUNT, "the values directory", "--values-dir"]
    : chart.reference
      ? [chart.directory, CHART_MOUNT, `the chart ${chart.reference}`, "the chart's root (or pass --values-dir)"]
      : [chart.directory, CHART_MOUNT, "the chart directory", "--chart"]
  for (const file of plan.values) {
    if (!(await where.exists(file, { expectedType: ExistsType.RegularType }))) {
      throw new InvalidArgumentError(
        "values",
        file,
        `is not a file in ${inside}: expected a values file path relative to ${relativeTo} (e.g. values-prod.yaml)`,
      )
    }
  }
  const conventional = await where.exists(namespaceValuesFile(plan.namespace), {
    expectedType: ExistsType.RegularType,
  })
  return valuesFilesFor(plan.namespace, plan.values, conventional).map((file) => `${mount}/${file}`)
}
