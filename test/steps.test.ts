/**
 * The step helper: every step is a span (named, with the attributes a person looks for, nested
 * under the step that runs it, with its error recorded) and a record the reports print, the same
 * step for both.
 */
import { SpanStatusCode } from "@opentelemetry/api"
import { beforeEach, describe, expect, test } from "vitest"

import { NAMESPACE_ATTRIBUTE, Steps, type StepRecord } from "../src/common/steps.js"
import { catchSpans } from "./support/spans.js"

const spans = catchSpans()
beforeEach(() => spans.reset())

describe("a step is a span and a record", () => {
  test("a step that ends well: its name (with the namespace), attributes known before and produced, its detail", async () => {
    const told: StepRecord[] = []
    const steps = new Steps((record) => told.push(record))
    const value = await steps.run(
      "helm upgrade",
      {
        namespace: "meetinity-dev",
        attributes: { "container.image.tags": "v1.4.2" },
        result: (revision: number) => ({ detail: `revision ${revision}`, attributes: { "helm.revision": revision } }),
      },
      async () => 12,
    )
    expect(value).toBe(12)
    const span = spans.span("helm upgrade meetinity-dev")
    expect(span.attributes).toEqual({
      [NAMESPACE_ATTRIBUTE]: "meetinity-dev",
      "container.image.tags": "v1.4.2",
      "helm.revision": 12,
      "step.detail": "revision 12",
    })
    expect(span.status.code).not.toBe(SpanStatusCode.ERROR)
    expect(told).toEqual([
      expect.objectContaining({
        step: "helm upgrade",
        namespace: "meetinity-dev",
        depth: 0,
        state: "done",
        detail: "revision 12",
      }),
    ])
    expect(steps.records).toEqual(told)
  })

  test("a step that fails: the error passes through, recorded on the span (status and exception) and in the record", async () => {
    const steps = new Steps()
    await expect(
      steps.run("pull secret", { namespace: "meetinity-prod" }, async () => {
        throw new Error("kubectl apply of Secret ghcr-pull-secret in namespace meetinity-prod failed")
      }),
    ).rejects.toThrow(/kubectl apply of Secret/)
    const span = spans.span("pull secret meetinity-prod")
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringMatching(/kubectl apply/) })
    expect(span.events.map((e) => e.name)).toContain("exception")
    expect(steps.records).toEqual([expect.objectContaining({ step: "pull secret", state: "failed" })])
  })

  test("steps inside a step are its children, in the span tree and in the records (start order, with depth)", async () => {
    const steps = new Steps()
    await steps.run("publish", {}, async () => {
      await steps.run("read registry", {}, async () => undefined)
      await Promise.all(
        ["linux/amd64", "linux/arm64"].map((p) => steps.run("build", { attributes: { platform: p } }, async () => p)),
      )
      await steps.run("push", {}, async () => undefined)
    })
    await steps.run("preflight", {}, async () => undefined)
    expect(steps.records.map((r) => [r.step, r.depth])).toEqual([
      ["publish", 0],
      ["read registry", 1],
      ["build", 1],
      ["build", 1],
      ["push", 1],
      ["preflight", 0],
    ])
    for (const child of ["read registry", "build", "push"]) expect(spans.parentOf(spans.span(child))).toBe("publish")
    expect(spans.parentOf(spans.span("preflight"))).toBeUndefined()
    expect(
      spans
        .spans()
        .filter((s) => s.name === "build")
        .map((s) => s.attributes.platform),
    ).toEqual(expect.arrayContaining(["linux/amd64", "linux/arm64"]))
  })

  test("a step beside one that failed is recorded as still running when the run stops", async () => {
    const steps = new Steps()
    let release!: () => void
    const slow = new Promise<void>((resolve) => (release = resolve))
    const both = Promise.all([
      steps.run("build", { attributes: { platform: "linux/amd64" } }, () => slow),
      steps.run("build", { attributes: { platform: "linux/arm64" } }, async () => {
        throw new Error("no arm64 base image")
      }),
    ])
    await expect(both).rejects.toThrow(/no arm64/)
    expect(steps.records.map((r) => r.state)).toEqual(["running", "failed"])
    release()
  })

  test("a long step tells its progress as it goes: span events, and the last counts as attributes", async () => {
    const steps = new Steps()
    await steps.run("delete", { attributes: { "retention.of": 3 } }, async (progress) => {
      for (let i = 1; i <= 3; i++) progress.note(`deleted ${i} of 3`, { "retention.deleted": i })
    })
    const span = spans.span("delete")
    expect(span.events.map((e) => e.name)).toEqual(["deleted 1 of 3", "deleted 2 of 3", "deleted 3 of 3"])
    expect(span.attributes["retention.deleted"]).toBe(3)
    expect(steps.records[0]!.attributes["retention.deleted"]).toBe(3)
  })
})
