/**
 * Chart.yaml as Helm 4 reads it (helm.sh/helm/v4 pkg/chart/v2 `Metadata`): the fields Helm knows,
 * matched as Go's JSON decoder matches them (exact name first, else any case), strings cleaned as
 * Helm's `Validate` cleans them, and written back as Helm writes the OCI config blob:
 * `json.Marshal(metadata)`, fields in Go's struct order, empty ones left out, map keys sorted,
 * `<`, `>` and `&` escaped. Pure.
 *
 * Stricter than Helm where Helm guesses: a number or boolean where Helm wants a string
 * (`version: 1.0`, which Helm turns into "1") is refused with a hint to quote it, and so is a
 * chart whose apiVersion is not v2 (Helm 3 and 4 charts).
 */
import { parseDocument } from "yaml"

import { check } from "../common/errors.js"
import { parseChartVersion } from "./reference.js"
import { goJson, type GoValue } from "./gojson.js"

/** A chart's Chart.yaml, with the fields Helm reads. */
export interface ChartMetadata {
  readonly name: string
  readonly version: string
  readonly apiVersion: string
  readonly description?: string
  readonly home?: string
  readonly sources?: readonly string[]
  readonly maintainers?: readonly { name?: string; email?: string; url?: string }[]
  readonly annotations?: Readonly<Record<string, string>>
  readonly dependencies?: readonly { name: string; alias?: string }[]
  /** The OCI config blob Helm pushes for this Chart.yaml: `json.Marshal(metadata)`, byte for byte. */
  readonly configJson: string
}

type Kind = "string" | "strings" | "bool" | "map" | "maintainers" | "dependencies" | "any"

/** `Metadata`'s fields in Go's struct order, with the JSON names Helm gives them. */
const METADATA: readonly (readonly [string, Kind, boolean?])[] = [
  ["name", "string", true],
  ["home", "string", true],
  ["sources", "strings", true],
  ["version", "string"],
  ["description", "string", true],
  ["keywords", "strings", true],
  ["maintainers", "maintainers"],
  ["icon", "string", true],
  ["apiVersion", "string"],
  ["condition", "string", true],
  ["tags", "string", true],
  ["appVersion", "string", true],
  ["deprecated", "bool"],
  ["annotations", "map"],
  ["kubeVersion", "string", true],
  ["dependencies", "dependencies"],
  ["type", "string"],
]

const MAINTAINER: readonly (readonly [string, Kind, boolean?])[] = [
  ["name", "string", true],
  ["email", "string", true],
  ["url", "string", true],
]

/** `Dependency`: `name` and `repository` are written even when empty (no omitempty in Helm's struct). */
const DEPENDENCY: readonly (readonly [string, Kind, boolean?])[] = [
  ["name", "string", true],
  ["version", "string", true],
  ["repository", "string", true],
  ["condition", "string", true],
  ["tags", "strings", true],
  ["enabled", "bool"],
  ["import-values", "any"],
  ["alias", "string"],
]
const ALWAYS = new Set(["name", "repository"])

/**
 * Reads a Chart.yaml (YAML 1.1, as Go's yaml reads it) and checks what Helm checks, with clear
 * errors. `anyApiVersion` is for subcharts (a vendored Helm 2 chart is apiVersion v1, the
 * default Helm gives an empty one).
 */
export function parseChartYaml(
  text: string,
  file = "Chart.yaml",
  options: { readonly anyApiVersion?: boolean } = {},
): ChartMetadata {
  const fields = readStruct(
    readYaml(text, file, "Chart.yaml fields (name, version, apiVersion …)"),
    METADATA,
    file,
    false,
  )
  if (options.anyApiVersion && !fields.has("apiVersion")) fields.set("apiVersion", "v1")
  const name = (fields.get("name") as string | undefined) ?? ""
  const version = (fields.get("version") as string | undefined) ?? ""
  const apiVersion = (fields.get("apiVersion") as string | undefined) ?? ""
  check(name !== "", `${file} name`, name, "is missing: every chart has a name (e.g. name: meetinity)")
  check(
    name !== "." && name !== ".." && !name.includes("/") && !name.includes("\\"),
    `${file} name`,
    name,
    "is not a chart name: expected one path part, no / or \\ (e.g. meetinity)",
  )
  check(version !== "", `${file} version`, version, "is missing: every chart has a version (e.g. version: 0.2.0)")
  parseChartVersion(version, `${file} version`)
  check(
    apiVersion === "v2" || options.anyApiVersion === true,
    `${file} apiVersion`,
    apiVersion,
    'is not v2: the module publishes Helm 3 and 4 charts (apiVersion: v2), whose dependencies are listed in Chart.yaml; an empty apiVersion is Helm 2\'s "v1"',
  )
  const type = (fields.get("type") as string | undefined) ?? ""
  check(
    ["", "application", "library"].includes(type),
    `${file} type`,
    type,
    "is not a chart type: expected application or library",
  )
  const dependencies = (fields.get("dependencies") as Map<string, GoValue>[] | undefined) ?? []
  const seen = new Set<string>()
  for (const dependency of dependencies) {
    const key = ((dependency.get("alias") as string | undefined) || (dependency.get("name") as string)) ?? ""
    check(
      !seen.has(key),
      `${file} dependencies`,
      key,
      "is listed twice: Helm refuses two dependencies of one name or alias",
    )
    seen.add(key)
    const alias = dependency.get("alias") as string | undefined
    check(
      alias === undefined || /^[a-zA-Z0-9-_]+$/.test(alias),
      `${file} dependencies`,
      alias,
      "is not an alias Helm allows: letters, digits, - and _ only",
    )
  }
  const text_ = (key: string) => fields.get(key) as string | undefined
  return {
    name,
    version,
    apiVersion,
    ...(text_("description") ? { description: text_("description") } : {}),
    ...(text_("home") ? { home: text_("home") } : {}),
    ...(fields.has("sources") ? { sources: fields.get("sources") as string[] } : {}),
    ...(fields.has("maintainers")
      ? { maintainers: (fields.get("maintainers") as Map<string, string>[]).map((m) => Object.fromEntries(m)) }
      : {}),
    ...(fields.has("annotations") ? { annotations: fields.get("annotations") as Record<string, string> } : {}),
    ...(dependencies.length > 0
      ? {
          dependencies: dependencies.map((d) => ({
            name: d.get("name") as string,
            ...(d.get("alias") ? { alias: d.get("alias") as string } : {}),
          })),
        }
      : {}),
    configJson: goJson(fields),
  }
}

/**
 * Chart.lock as Helm's JSON (`json.Marshal` of its `Lock`: generated, digest, dependencies):
 * Helm rewrites the file when it packages a chart, so two locks are the same when this is.
 */
export function lockJson(text: string, file = "Chart.lock"): string {
  const raw = readYaml(text, file, "Chart.lock fields (generated, digest, dependencies)")
  const generated = raw.generated instanceof Date ? raw.generated : new Date(String(raw.generated ?? 0))
  const dependencies = Array.isArray(raw.dependencies) ? raw.dependencies : []
  return goJson(
    new Map<string, GoValue>([
      ["generated", Number.isNaN(generated.getTime()) ? String(raw.generated) : generated.toISOString()],
      ["digest", typeof raw.digest === "string" ? raw.digest : ""],
      [
        "dependencies",
        dependencies.map((d, i) =>
          readStruct(isObject(d) ? (d as Record<string, unknown>) : {}, DEPENDENCY, `${file} dependencies[${i}]`, true),
        ),
      ],
    ]),
  )
}

/** A YAML mapping, read as Go's yaml (YAML 1.1) reads it. */
function readYaml(text: string, file: string, what: string): Record<string, unknown> {
  const doc = parseDocument(text.replace(/^\uFEFF/, ""), { version: "1.1", uniqueKeys: true })
  check(doc.errors.length === 0, file, doc.errors[0]?.message ?? "", "is not YAML Helm can read")
  const raw: unknown = doc.toJS()
  check(isObject(raw), file, text.slice(0, 80), `is not a mapping of ${what}`)
  return raw as Record<string, unknown>
}

/**
 * The fields of a Go struct from a YAML mapping, as `encoding/json` fills them: keys matched
 * exactly, else case-insensitively (a later key wins), unknown keys dropped, `null` left empty.
 * Returns the fields Go's `json.Marshal` writes, in struct order.
 */
function readStruct(
  raw: Record<string, unknown>,
  fields: readonly (readonly [string, Kind, boolean?])[],
  where: string,
  always: boolean,
): Map<string, GoValue> {
  const values = new Map<string, unknown>()
  for (const [key, value] of Object.entries(raw)) {
    const field =
      fields.find(([name]) => name === key) ?? fields.find(([name]) => name.toLowerCase() === key.toLowerCase())
    if (field && value !== null && value !== undefined) values.set(field[0], value)
  }
  const out = new Map<string, GoValue>()
  for (const [name, kind, sanitized] of fields) {
    const value = read(values.get(name), kind, `${where} ${name}`, sanitized === true)
    if (always && ALWAYS.has(name)) out.set(name, value ?? "")
    else if (value !== undefined && !isEmpty(value)) out.set(name, value)
  }
  return out
}

/** What Go's `omitempty` leaves out: "", false, an empty list or map. */
const isEmpty = (value: GoValue): boolean =>
  value === "" ||
  value === false ||
  (Array.isArray(value) && value.length === 0) ||
  (isObject(value) && Object.keys(value as object).length === 0)

function read(value: unknown, kind: Kind, at: string, sanitized: boolean): GoValue | undefined {
  if (value === undefined) return undefined
  const text = (v: unknown, where: string): string => {
    check(
      typeof v === "string",
      where,
      v,
      `is not a string: quote it in Chart.yaml (e.g. "${String(v)}"): Helm would turn it into a string of its own making`,
    )
    return sanitized ? sanitize(v as string) : (v as string)
  }
  switch (kind) {
    case "string":
      return text(value, at)
    case "strings":
      check(Array.isArray(value), at, value, "is not a list of strings")
      return (value as unknown[]).map((v, i) => text(v, `${at}[${i}]`))
    case "bool":
      check(typeof value === "boolean", at, value, "is not true or false")
      return value as boolean
    case "map": {
      check(isObject(value), at, value, "is not a mapping of strings")
      const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, text(v, `${at}.${k}`)])
      return Object.fromEntries(entries) as Record<string, string>
    }
    case "maintainers":
    case "dependencies": {
      check(Array.isArray(value), at, value, `is not a list of ${kind}`)
      return (value as unknown[]).map((v, i) => {
        check(isObject(v), `${at}[${i}]`, v, "is empty or not a mapping: Helm refuses empty or null entries")
        const struct = kind === "maintainers" ? MAINTAINER : DEPENDENCY
        return readStruct(v as Record<string, unknown>, struct, `${at}[${i}]`, kind === "dependencies")
      })
    }
    case "any":
      return toGo(value)
  }
}

/** A YAML value as Go holds it in an `interface{}`: mappings as maps (keys sorted when written). */
function toGo(value: unknown): GoValue {
  if (Array.isArray(value)) return value.map(toGo)
  if (isObject(value))
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toGo(v)]))
  if (value instanceof Date) return value.toISOString()
  return value as GoValue
}

const isObject = (value: unknown): boolean =>
  typeof value === "object" &&
  value !== null &&
  !Array.isArray(value) &&
  !(value instanceof Date) &&
  !(value instanceof Map)

/** Go's `unicode.IsSpace` characters: Helm turns each into a plain space. */
const GO_SPACE = /[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/g

/** Helm's `sanitizeString`: spaces become ' ', characters Go does not print are dropped. */
export function sanitize(text: string): string {
  return text.replace(GO_SPACE, " ").replace(/\p{C}/gu, "")
}
