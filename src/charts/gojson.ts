/**
 * JSON written as Go's `encoding/json` writes it, so the config and manifest Helm would push are
 * reproduced byte for byte: a `Map` is a Go struct (its fields in the order given), a plain object
 * is a Go map (keys sorted), strings escaped as Go escapes them (`<`, `>`, `&`, U+2028 and U+2029
 * as `\u` escapes). Pure.
 */

/** A value as Go would marshal it: a `Map` is a struct, a plain object a `map[string]…`. */
export type GoValue = string | number | boolean | null | readonly GoValue[] | Map<string, GoValue> | GoMap

/** A Go map: written with its keys sorted. */
export interface GoMap {
  readonly [key: string]: GoValue
}

/** `json.Marshal(value)`, compact, as Go writes it. */
export function goJson(value: GoValue): string {
  if (value === null) return "null"
  if (typeof value === "string") return goString(value)
  if (typeof value === "number" || typeof value === "boolean") return String(value)
  if (Array.isArray(value)) return `[${(value as readonly GoValue[]).map(goJson).join(",")}]`
  if (value instanceof Map) return `{${[...value].map(([k, v]) => `${goString(k)}:${goJson(v)}`).join(",")}}`
  const map = value as GoMap
  const keys = Object.keys(map).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${keys.map((k) => `${goString(k)}:${goJson(map[k]!)}`).join(",")}}`
}

/** A string as Go's encoder quotes it (HTML-safe). */
function goString(text: string): string {
  return JSON.stringify(text).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  )
}
