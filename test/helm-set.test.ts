/**
 * `--set` as Helm reads it: the module's split of a --set element into assignments must find the
 * same keys Helm's own parser sets (read back from a real `helm template` of a chart that prints
 * its values), and every key of every assignment is checked against the values the deploy pins.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

import { describe, expect, test } from "vitest"

import { parseSetValues, splitAssignments } from "../src/delivery/values.js"
import { helm } from "./support/tools.js"

/** A chart whose only template prints the values Helm computed, as JSON. */
function valuesChart(): string {
  const dir = mkdtempSync(join(tmpdir(), "values-chart-"))
  mkdirSync(join(dir, "templates"))
  writeFileSync(join(dir, "Chart.yaml"), "apiVersion: v2\nname: values\nversion: 0.1.0\n")
  writeFileSync(join(dir, "templates", "values.yaml"), "# {{ toJson .Values }}\n")
  return dir
}

/** Every leaf path Helm set, as `a.b[1].c` (a list index below the one set is null: not a leaf). */
function leaves(node: unknown, prefix = ""): string[] {
  if (node === null) return []
  if (Array.isArray(node)) return node.flatMap((item, i) => leaves(item, `${prefix}[${i}]`))
  if (node !== null && typeof node === "object")
    return Object.entries(node).flatMap(([k, v]) =>
      leaves(v, prefix ? `${prefix}.${k.replace(/\./g, "\\.")}` : k.replace(/\./g, "\\.")),
    )
  return [prefix]
}

const chart = valuesChart()
const helmKeys = (element: string) => {
  const ran = helm(["template", "x", chart, "--set", element])
  expect(ran.status, ran.stderr).toBe(0)
  const json = /# (\{.*\})/.exec(ran.stdout)![1]!
  return leaves(JSON.parse(json)).sort()
}

describe("splitting a --set element as Helm does", () => {
  test.each([
    ["one assignment", "a=1", ["a"]],
    ["two assignments joined by a comma", "a=1,b=2", ["a", "b"]],
    ["an escaped comma stays in the value", "a=x\\,y,b=2", ["a", "b"]],
    ["a list value keeps its commas", "a={x,y,z},b=2", ["a", "b"]],
    [
      "nested keys and a list index",
      "api-gateway.image.pullPolicy=Always,global.imagePullSecrets[1].name=other",
      ["api-gateway.image.pullPolicy", "global.imagePullSecrets[1].name"],
    ],
    ["an escaped dot is part of one key", "annotations.example\\.com/team=web", ["annotations.example\\.com/team"]],
    ["an = in a value", "a=b=c,d=e", ["a", "d"]],
  ])("%s", (_name, element, keys) => {
    expect(splitAssignments(element)).toEqual(keys)
    // The leaves Helm set are these keys (a list value sets its indexes below its key).
    const set = helmKeys(element)
    for (const key of keys) expect(set.some((leaf) => leaf === key || leaf.startsWith(`${key}[`))).toBe(true)
    expect(set.every((leaf) => keys.some((key) => leaf === key || leaf.startsWith(`${key}[`)))).toBe(true)
  })

  test.each([
    ["no =", "just-a-word"],
    ["an empty key", "=1"],
    ["a comma before the =", "a,b=1"],
  ])("%s: not a chart value", (_name, element) => {
    expect(splitAssignments(element)).toBeUndefined()
    expect(() => parseSetValues([element])).toThrow(/is not a chart value/)
  })
})

describe("every key of every assignment is checked", () => {
  test.each([
    [
      "the pull secrets behind a comma",
      "api-gateway.replicaCount=2,global.imagePullSecrets[1].name=x",
      "api-gateway.image",
      /sets global\.imagePullSecrets\[1\]\.name/,
    ],
    [
      "this service's tag behind a comma",
      "a=1,api-gateway.image.tag=latest",
      "api-gateway.image",
      /sets api-gateway\.image\.tag/,
    ],
    ["global itself (above the pull secrets)", "global=x", "api-gateway.image", /sets global,/],
    [
      "the digest behind an escaped comma in a value",
      "a=x\\,y,global.image.digest=sha256:00",
      "global.image",
      /sets global\.image\.digest/,
    ],
  ])("%s is refused", (_name, element, imageValues, message) => {
    expect(() => parseSetValues([element], imageValues)).toThrow(message)
  })

  test.each([
    ["a key with an escaped dot that only looks like the path", "api-gateway\\.image\\.tag=x", "api-gateway.image"],
    ["a sibling of the pull secrets", "global.env=prod,api-gateway.replicaCount=3", "api-gateway.image"],
    ["the value of another service", "event-service.image.tag=v9", "api-gateway.image"],
  ])("%s is allowed", (_name, element, imageValues) => {
    expect(parseSetValues([element], imageValues)).toEqual([element])
  })
})
