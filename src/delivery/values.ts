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
 * Extra chart values, each as `helm --set` takes it: one or more `key=value` assignments joined
 * by commas (`a=1,b=2` is two), a `\,` in a value and `{a,b}` list values keep their commas, and
 * a `\.` in a key is a dot inside one key name (Helm's own syntax). Every key of every assignment
 * is checked: the keys helmDeploy sets itself are refused (this service's `<imageValues>`
 * `.repository`, `.tag`, `.digest`, any key above them, and `global.imagePullSecrets` with
 * anything in or above it), so the version that rolls through every namespace is the one given.
 */
export function parseSetValues(
  values: readonly string[],
  imageValues = DEFAULT_IMAGE_VALUES,
  argument = "set",
): string[] {
  const keys = valueKeys(imageValues)
  const reserved = [keys.repository, keys.tag, keys.digest, "global.imagePullSecrets"].map(keyPath)
  for (const value of values) {
    const assignments = splitAssignments(value)
    check(
      assignments !== undefined,
      argument,
      value,
      "is not a chart value: expected key=value, or several joined by commas as Helm reads them (e.g. api-gateway.replicaCount=3). dagger call splits list flags on commas: for a value with a comma, quote the element and escape the comma for Helm ('\"key=a\\,b\"'), or put it in a values file (--values)",
    )
    for (const key of assignments!) {
      const path = keyPath(key)
      const clash = reserved.some((r) => startsWith(path, r) || startsWith(r, path))
      if (clash) {
        throw new InvalidArgumentError(
          argument,
          value,
          `sets ${key}, which helmDeploy sets itself from --image, --version, --digest and --pull-secret-name (this service's image goes to ${imageValues}, --image-values): use those instead`,
        )
      }
    }
  }
  return [...values]
}

/**
 * The keys of a `--set` element as Helm's strvals parser reads it: assignments split on commas
 * that are neither escaped nor inside a `{...}` list value; undefined when one has no `=` or no
 * key. Keys are returned as written (escapes kept).
 */
export function splitAssignments(element: string): string[] | undefined {
  const keys: string[] = []
  let i = 0
  while (i <= element.length) {
    // The key: up to the first unescaped '='.
    let key = ""
    for (; i < element.length && element[i] !== "="; i++) {
      if (element[i] === "\\" && i + 1 < element.length) key += element[i++]
      if (element[i] === ",") return undefined
      key += element[i]
    }
    if (i >= element.length || key === "") return undefined
    keys.push(key)
    i++ // past '='
    // The value: up to the first unescaped ',' outside a {...} list.
    let depth = 0
    for (; i < element.length; i++) {
      const c = element[i]
      if (c === "\\") i++
      else if (c === "{") depth++
      else if (c === "}") depth = Math.max(0, depth - 1)
      else if (c === "," && depth === 0) break
    }
    if (i >= element.length) return keys
    i++ // past ','
  }
  return keys
}

/** A key's path: its names split on unescaped dots, each list index its own step (`a.b[1].c` -> a, b, [1], c). */
function keyPath(key: string): string[] {
  const path: string[] = []
  let name = ""
  for (let i = 0; i < key.length; i++) {
    const c = key[i]!
    if (c === "\\" && i + 1 < key.length) name += key[++i]
    else if (c === ".") {
      path.push(name)
      name = ""
    } else if (c === "[") {
      if (name) path.push(name)
      const close = key.indexOf("]", i)
      path.push(key.slice(i, close < 0 ? key.length : close + 1))
      i = close < 0 ? key.length : close
      name = ""
      if (key[i + 1] === ".") i++
    } else name += c
  }
  if (name) path.push(name)
  return path
}

/** Is `path` `prefix` or below it? */
const startsWith = (path: readonly string[], prefix: readonly string[]) =>
  prefix.length <= path.length && prefix.every((name, i) => path[i] === name)

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
