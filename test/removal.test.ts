/**
 * The removal guard's decisions (src/delivery/removal.ts), on manifests real Helm rendered from
 * the example umbrella chart (`helm template`, offline): which objects a deploy would remove, and
 * which of them belong to another service. The guard on a real control plane is in
 * cluster-deploy.test.ts.
 */
import { cpSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

import { describe, expect, test } from "vitest"

import { planHelm } from "../src/delivery/inputs.js"
import { findRemovals, helmRenderArgs, manifestObjects, removalRefusal } from "../src/delivery/removal.js"
import { helm } from "./support/tools.js"

const CHART = resolve("examples/meetinity")
const GATEWAY = "ghcr.io/meetinity/api-gateway"
const EVENTS = "ghcr.io/meetinity/event-service"

/** `helm template` of a chart with each service's image set (a service without one renders nothing). */
function render(chart: string, images: { gateway?: string; events?: string }, extra: string[] = []): string {
  const set = [
    ...(images.gateway ? [`api-gateway.image.repository=${GATEWAY}`, `api-gateway.image.tag=${images.gateway}`] : []),
    ...(images.events ? [`event-service.image.repository=${EVENTS}`, `event-service.image.tag=${images.events}`] : []),
  ]
  const ran = helm(["template", "meetinity", chart, ...set.flatMap((s) => ["--set", s]), ...extra])
  expect(ran.stderr).toBe("")
  return ran.stdout
}

/** A copy of the example chart with `change` applied. */
function chartCopy(change: (dir: string) => void): string {
  const dir = join(mkdtempSync(join(tmpdir(), "chart-")), "meetinity")
  cpSync(CHART, dir, { recursive: true })
  change(dir)
  return dir
}

const plan = (imageValues: string, image = GATEWAY) =>
  planHelm({
    release: "meetinity",
    namespace: "meetinity-dev",
    image,
    version: "v1.4.2",
    pullSecretName: "ghcr-pull-secret",
    timeout: "5m",
    set: [],
    imageValues,
  })

const names = (objects: readonly { kind: string; name: string; subchart: string }[]) =>
  objects.map((o) => `${o.kind} ${o.name} <${o.subchart}>`)

describe("manifestObjects", () => {
  test("reads each object of Helm's render with the subchart its `# Source:` line names", () => {
    const objects = manifestObjects(render(CHART, { gateway: "v1.4.2", events: "v0.3.0" }))
    expect(names(objects)).toEqual([
      "Service meetinity-api-gateway <api-gateway>",
      "Service meetinity-event-service <event-service>",
      "Deployment meetinity-api-gateway <api-gateway>",
      "Deployment meetinity-event-service <event-service>",
    ])
    expect(objects[2]!.images).toEqual([`${GATEWAY}:v1.4.2`])
  })

  test("the umbrella's own templates, nested subcharts, keep annotations, and documents that are no objects", () => {
    const manifest = [
      "---\n# Source: meetinity/templates/config.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n",
      "---\n# Source: meetinity/charts/api-gateway/charts/redis/templates/sts.yaml\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: cache\n  namespace: other\n",
      '---\n# Source: meetinity/charts/event-service/templates/pvc.yaml\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  annotations:\n    "helm.sh/resource-policy": keep\n',
      "---\n# Source: meetinity/templates/empty.yaml\n# nothing rendered\n",
      "---\n: not yaml : [\n",
    ].join("")
    expect(manifestObjects(manifest)).toMatchObject([
      { kind: "ConfigMap", name: "shared", subchart: "", kept: false },
      { kind: "StatefulSet", name: "cache", namespace: "other", subchart: "api-gateway" },
      { kind: "PersistentVolumeClaim", name: "data", subchart: "event-service", kept: true },
    ])
  })
})

describe("findRemovals", () => {
  const both = render(CHART, { gateway: "v1.4.1", events: "v0.3.0" })
  const withoutEvents = chartCopy((dir) => {
    writeFileSync(join(dir, "values.yaml"), "event-service:\n  enabled: false\n", { flag: "a" })
  })
  const withConfigMap = chartCopy((dir) => {
    writeFileSync(
      join(dir, "templates", "config.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  a: b\n",
    )
  })

  test.each([
    {
      name: "the same chart: nothing goes",
      current: both,
      next: render(CHART, { gateway: "v1.4.2", events: "v0.3.0" }),
      imageValues: "api-gateway.image",
      own: [],
      others: [],
    },
    {
      name: "another subchart no longer rendered (a stale chart): another service's objects",
      current: both,
      next: render(withoutEvents, { gateway: "v1.4.2", events: "v0.3.0" }),
      imageValues: "api-gateway.image",
      own: [],
      others: ["Service meetinity-event-service <event-service>", "Deployment meetinity-event-service <event-service>"],
    },
    {
      name: "this service's own subchart drops an object: it goes as its chart says",
      current: both,
      next: render(CHART, { gateway: "v1.4.2", events: "v0.3.0" }).replace(
        /---\n# Source: meetinity\/charts\/api-gateway\/templates\/service\.yaml[\s\S]*?(?=---)/,
        "",
      ),
      imageValues: "api-gateway.image",
      own: ["Service meetinity-api-gateway <api-gateway>"],
      others: [],
    },
    {
      name: "global.image: the service's subchart is the one that runs its image",
      current: both,
      next: render(withoutEvents, { gateway: "v1.4.2", events: "v0.3.0" }),
      imageValues: "global.image",
      own: [],
      others: ["Service meetinity-event-service <event-service>", "Deployment meetinity-event-service <event-service>"],
    },
    {
      name: "event-service deploying from a chart that lost event-service: its own objects",
      current: both,
      next: render(withoutEvents, { gateway: "v1.4.2", events: "v0.3.0" }),
      imageValues: "event-service.image",
      image: EVENTS,
      own: ["Service meetinity-event-service <event-service>", "Deployment meetinity-event-service <event-service>"],
      others: [],
    },
    {
      name: "the umbrella's own templates belong to no one service",
      current: render(withConfigMap, { gateway: "v1.4.1", events: "v0.3.0" }),
      next: both,
      imageValues: "api-gateway.image",
      own: [],
      others: ["ConfigMap shared <>"],
    },
    {
      name: "a single-service chart (--image-values image): the chart's own templates are the service's",
      current: render(withConfigMap, { gateway: "v1.4.1", events: "v0.3.0" }),
      next: both,
      imageValues: "image",
      own: ["ConfigMap shared <>"],
      others: [],
    },
  ])("$name", ({ current, next, imageValues, image, own, others }) => {
    const removals = findRemovals(plan(imageValues, image), manifestObjects(current), manifestObjects(next))
    expect(names(removals.own)).toEqual(own)
    expect(names(removals.others)).toEqual(others)
  })

  test("an object Helm keeps (resource-policy keep), or one whose API version moved, is no removal", () => {
    const kept = both.replace(
      /(# Source: meetinity\/charts\/event-service\/templates\/service\.yaml\napiVersion: v1\nkind: Service\nmetadata:\n)/,
      '$1  annotations:\n    "helm.sh/resource-policy": keep\n',
    )
    const moved = render(CHART, { gateway: "v1.4.2", events: "v0.3.0" }).replace(
      /apiVersion: apps\/v1/g,
      "apiVersion: apps/v2",
    )
    const next = manifestObjects(render(withoutEvents, { gateway: "v1.4.2" }))
    expect(names(findRemovals(plan("api-gateway.image"), manifestObjects(kept), next).others)).toEqual([
      "Deployment meetinity-event-service <event-service>",
    ])
    expect(findRemovals(plan("api-gateway.image"), manifestObjects(both), manifestObjects(moved)).others).toEqual([])
  })

  test("the refusal names each object with its subchart, says nothing changed, and both ways on", () => {
    const { others } = findRemovals(
      plan("api-gateway.image"),
      manifestObjects(both),
      manifestObjects(render(withoutEvents, { gateway: "v1.4.2" })),
    )
    expect(removalRefusal(plan("api-gateway.image"), others).split("\n")).toEqual([
      `refusing to deploy ${GATEWAY}:v1.4.2 to release meetinity in meetinity-dev: it would remove 2 objects this service does not own:`,
      "  Service meetinity-event-service (subchart event-service)",
      "  Deployment meetinity-event-service (subchart event-service)",
      "The chart given does not render the subchart event-service that the release runs now (a stale copy of the umbrella chart?). Nothing was changed.",
      expect.stringMatching(/^Deploy from the current umbrella chart .*--allow-removal to remove them on purpose/),
    ])
  })
})

test("the render is the upgrade's own command line as a server-side dry run: same chart, values and flags, no wait or rollback", () => {
  const args = helmRenderArgs(plan("api-gateway.image"), "/work/chart", {
    digest: `sha256:${"a".repeat(64)}`,
    valuesFiles: ["/work/chart/values-meetinity-dev.yaml"],
  })
  expect(args.slice(0, 5)).toEqual(["helm", "upgrade", "--install", "meetinity", "/work/chart"])
  expect(args.at(-1)).toBe("--dry-run=server")
  expect(args).toContain("--reset-then-reuse-values")
  expect(args).toContain("/work/chart/values-meetinity-dev.yaml")
  for (const flag of ["--wait=watcher", "--rollback-on-failure", "--cleanup-on-fail"]) expect(args).not.toContain(flag)
})
