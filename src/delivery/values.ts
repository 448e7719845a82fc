/**
 * The chart values of a deploy: where this service's image goes (`--image-values`), the values
 * the deploy pins itself, the user's `--set` values (refused where they would override a pinned
 * one) and the values files, in the order Helm reads them.
 */
import { check, InvalidArgumentError } from "../common/errors.js"

/** Where a deploy puts its image in the chart's values unless told otherwise: one image for the whole chart. */
export const DEFAULT_IMAGE_VALUES = "global.image"

/** The chart value of the image pull secret, the same for every service of the chart. */
export const PULL_SECRET_KEY = "global.imagePullSecrets[0].name"

/** The chart values one deploy sets: its image at `<imageValues>.repository`, `.tag`, `.digest`, and the pull secret. */
export interface ValueKeys {
  readonly repository: string
  readonly tag: string
  readonly digest: string
  readonly pullSecret: string
}

export function valueKeys(imageValues: string): ValueKeys {
  return {
    repository: `${imageValues}.repository`,
    tag: `${imageValues}.tag`,
    digest: `${imageValues}.digest`,
    pullSecret: PULL_SECRET_KEY,
  }
}

/** The chart values helmDeploy sets with the default --image-values (what a chart with one image for all its services reads). */
export const VALUE_KEYS = valueKeys(DEFAULT_IMAGE_VALUES)

const VALUE_KEY = "[A-Za-z0-9_][A-Za-z0-9_-]*"

/**
 * Where in the chart's values this service's image goes: a dotted path of value keys such as
 * `global.image` or `api-gateway.image` (a subchart's values sit under its name). The deploy sets
 * `<path>.repository`, `.tag` and `.digest` there. Not under `global.imagePullSecrets`, which
 * the deploy sets itself.
 */
export function parseImageValues(value: string, argument = "imageValues"): string {
  check(
    value.length <= 200 && new RegExp(`^${VALUE_KEY}(?:\\.${VALUE_KEY})*$`).test(value),
    argument,
    value,
    "is not a chart values path: expected value keys (letters, digits, '_' and '-') joined by dots, at most 200 characters, where this service's image goes (e.g. global.image, api-gateway.image)",
  )
  check(
    value !== "global.imagePullSecrets" && !value.startsWith("global.imagePullSecrets."),
    argument,
    value,
    "is where helmDeploy puts the pull secrets (global.imagePullSecrets): expected the place of this service's image (e.g. api-gateway.image)",
  )
  return value
}

/**
 * Extra chart values, each `key=value` as `helm --set` takes them. Keys that helmDeploy sets
 * itself are refused (this service's `<imageValues>.repository`, `.tag`, `.digest`, the block
 * itself or any key above it, and `global.imagePullSecrets`): the version must be the one that
 * rolls through every namespace.
 */
export function parseSetValues(
  values: readonly string[],
  imageValues = DEFAULT_IMAGE_VALUES,
  argument = "set",
): string[] {
  const keys = valueKeys(imageValues)
  const parts = imageValues.split(".")
  const reserved = new Set<string>([
    keys.repository,
    keys.tag,
    keys.digest,
    ...parts.map((_, i) => parts.slice(0, i + 1).join(".")),
  ])
  for (const value of values) {
    const match = /^([A-Za-z0-9_.\-[\]\\/]+)=(.*)$/s.exec(value)
    check(
      match !== null,
      argument,
      value,
      "is not a chart value: expected key=value (e.g. api-gateway.replicaCount=3). dagger call splits list flags on commas: for a value with a comma, quote the element and escape the comma for Helm ('\"key=a\\,b\"'), or put it in a values file (--values)",
    )
    const key = match![1]!
    if (reserved.has(key) || key.startsWith("global.imagePullSecrets")) {
      throw new InvalidArgumentError(
        argument,
        value,
        `sets ${key}, which helmDeploy sets itself from --image, --version, --digest and --pull-secret-name (this service's image goes to ${imageValues}, --image-values): use those instead`,
      )
    }
  }
  return [...values]
}

/**
 * Values files, paths inside the chart directory, passed to Helm with --values in order. A file
 * is the way to pass values that contain commas (dagger call splits list flags on commas).
 */
export function parseValuesFiles(values: readonly string[], argument = "values"): string[] {
  for (const value of values) {
    check(
      value.trim() !== "" && !value.startsWith("/") && !value.split("/").includes(".."),
      argument,
      value,
      "is not a values file: expected a path inside the chart directory, without a leading / or .. (e.g. values-prod.yaml, env/prod.yaml)",
    )
  }
  return [...values]
}

/** The per-namespace values file used automatically when the chart has it: `values-<namespace>.yaml`. */
export const namespaceValuesFile = (namespace: string) => `values-${namespace}.yaml`

/**
 * The values files of one deploy, in the order Helm reads them (later ones win):
 * `values-<namespace>.yaml` when the chart has it and it is not listed explicitly, then the
 * explicit ones in the order given.
 */
export function valuesFilesFor(namespace: string, explicit: readonly string[], namespaceFileExists: boolean): string[] {
  const conventional = namespaceValuesFile(namespace)
  return [...(namespaceFileExists && !explicit.includes(conventional) ? [conventional] : []), ...explicit]
}
