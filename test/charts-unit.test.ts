/**
 * The pure parts of charts by reference: references, versions, Chart.yaml as Helm's JSON,
 * `.helmignore` (checked against what real `helm package` takes), the tar writer and reader,
 * and the comparison of two charts.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { gunzipSync, gzipSync } from "node:zlib"
import { describe, expect, test } from "vitest"

import { parseChartYaml } from "../src/charts/chartfile.js"
import { archiveFiles, chartContent, compareChart, describeDifference } from "../src/charts/compare.js"
import { globToRegExp, HelmIgnore } from "../src/charts/helmignore.js"
import { packageChart, selectChartFiles } from "../src/charts/package.js"
import { directoryEntries } from "../src/charts/pull.js"
import {
  chartRepository,
  chartTag,
  formatChartReference,
  isChartVersionTag,
  parseChartReference,
} from "../src/charts/reference.js"
import { readTarGz, writeTarGz } from "../src/charts/tar.js"
import { copyChart, EXAMPLE_CHART, helmHome, readChartFiles } from "./support/charts.js"

const D = `sha256:${"ab".repeat(32)}`
const refusal = (fn: () => unknown) => {
  try {
    fn()
  } catch (error) {
    return (error as Error).message
  }
  return undefined
}

describe("parseChartReference", () => {
  test.each([
    [
      "oci://ghcr.io/meetinity/charts/meetinity:0.2.0",
      {
        host: "ghcr.io",
        repository: "meetinity/charts/meetinity",
        name: "meetinity",
        version: "0.2.0",
        endpoint: { scheme: "https", host: "ghcr.io" },
      },
    ],
    [`oci://ghcr.io/meetinity/charts/meetinity:0.2.0@${D}`, { version: "0.2.0", digest: D }],
    [`oci://ghcr.io/meetinity/charts/meetinity@${D}`, { digest: D, name: "meetinity" }],
    ["oci://127.0.0.1:5000/o/charts/m:1.0.0-rc.1", { endpoint: { scheme: "http", host: "127.0.0.1:5000" } }],
    [
      "oci://localhost:5000/o/m:1.0.0_build.5",
      { version: "1.0.0+build.5", endpoint: { scheme: "http", host: "localhost:5000" } },
    ],
    ["oci://GHCR.io/o/m:1.0.0+b", { host: "ghcr.io", version: "1.0.0+b" }],
  ])("%s", (value, expected) => {
    expect(parseChartReference(value)).toMatchObject(expected)
  })

  test.each([
    ["ghcr.io/o/m:1.0.0", "is not a chart reference: expected oci://"],
    ["https://ghcr.io/o/m:1.0.0", "starts with oci:// (Helm's form), not http:// or https://"],
    ["oci://user:pw@ghcr.io/o/m:1.0.0", "carries user info"],
    ["oci://ghcr.io/o/m", "names no version and no digest"],
    ["oci://ghcr.io/o/m:v1.0.0", "chart versions have no v: 1.0.0"],
    ["oci://ghcr.io/o/m:1.0", "is not a chart version: expected SemVer 2"],
    ["oci://ghcr.io/o/m:1.0.0@sha256:abc", "has a digest that is not sha256:"],
    ["oci://ghcr.io/o/M:1.0.0", "registries refuse upper case"],
    ["oci://ghcr.io:99999/o/m:1.0.0", "has port 99999"],
    ["oci://ghcr.io:1.0.0", "names no path after the registry"],
  ])("refuses %s", (value, expected) => {
    const said = refusal(() => parseChartReference(value))
    expect(said).toContain(expected)
    expect(said).toMatch(/^chartRef "/)
    expect(said).not.toContain("pw@")
  })

  test("formats, tags and places charts as Helm does", () => {
    expect(formatChartReference({ host: "ghcr.io", repository: "o/charts/m", version: "1.0.0", digest: D })).toBe(
      `oci://ghcr.io/o/charts/m:1.0.0@${D}`,
    )
    expect(chartTag("1.0.0+build.5")).toBe("1.0.0_build.5")
    expect(["0.2.0", "1.0.0-rc.1", "1.0.0_build.5"].every(isChartVersionTag)).toBe(true)
    expect(["v1.0.0", "1.0", "sha-0123abc", "latest", "1.0.0__x"].some(isChartVersionTag)).toBe(false)
    expect(chartRepository("Meetinity", "meetinity")).toBe("meetinity/charts/meetinity")
    expect(refusal(() => chartRepository("-bad", "m"))).toContain('owner "-bad" is not a GitHub user')
  })
})

describe("Chart.yaml as Helm's JSON", () => {
  test("fields in Go's order, empty ones left out, dependencies' name and repository always, maps sorted, HTML escaped", () => {
    const meta = parseChartYaml(
      [
        "apiVersion: v2",
        "Name: demo", // Go's JSON decoder matches any case
        "version: 1.2.3",
        'description: "a <b> & c\\u0007\\ttab"',
        "annotations: {z: '1', a: '2'}",
        "dependencies:",
        "  - name: sub",
        "    version: 0.1.0",
        "    import-values: [{child: x, parent: p}]",
        "maintainers: [{name: Ann, email: a@x.io}]",
        "unknown: dropped",
        "deprecated: false",
      ].join("\n"),
    )
    expect(meta.configJson).toBe(
      '{"name":"demo","version":"1.2.3","description":"a \\u003cb\\u003e \\u0026 c tab","maintainers":[{"name":"Ann","email":"a@x.io"}],"apiVersion":"v2","annotations":{"a":"2","z":"1"},"dependencies":[{"name":"sub","version":"0.1.0","repository":"","import-values":[{"child":"x","parent":"p"}]}]}',
    )
  })

  test.each([
    ["apiVersion: v2\nname: x\nversion: 1.0", "Chart.yaml version 1 is not a string: quote it"],
    ['apiVersion: v2\nname: x\nversion: "1.0.0"\nappVersion: 1.10', "Chart.yaml appVersion 1.1 is not a string"],
    ["apiVersion: v1\nname: x\nversion: 1.0.0", 'Chart.yaml apiVersion "v1" is not v2'],
    ["apiVersion: v2\nversion: 1.0.0", 'Chart.yaml name "" is missing'],
    ["apiVersion: v2\nname: a/b\nversion: 1.0.0", "is not a chart name"],
    ["apiVersion: v2\nname: x\nversion: 1.0.0\ntype: lib", "is not a chart type"],
    ["apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies: [{name: a}, {name: a}]", "is listed twice"],
    ["apiVersion: v2\nname: x\nversion: 1.0.0\nmaintainers: [~]", "Helm refuses empty or null entries"],
    ["name: [", "is not YAML Helm can read"],
  ])("refuses %j", (text, expected) => {
    expect(refusal(() => parseChartYaml(text))).toContain(expected)
  })
})

describe(".helmignore", () => {
  test("Go's filepath.Match glob", () => {
    expect(globToRegExp("*.txt", "r").test("a.txt")).toBe(true)
    expect(globToRegExp("*.txt", "r").test("d/a.txt")).toBe(false)
    expect(globToRegExp("[^a-c]?", "r").test("dx")).toBe(true)
    expect(globToRegExp("\\*", "r").test("*")).toBe(true)
    expect(refusal(() => globToRegExp("[a", "r"))).toContain("a [ is not closed")
    expect(refusal(() => HelmIgnore.parse("a/**/b"))).toContain("uses **")
  })

  test("selects what real helm package takes", () => {
    const rules = [
      "# comment",
      "*.bak",
      "secret/",
      "/top-only.txt",
      "docs/*.md",
      "templates/tests/",
      "!nothing-matches-this-*",
    ]
    const extra: Record<string, string> = {
      ".helmignore": `${rules.slice(0, -1).join("\n")}\n`,
      "a.bak": "x",
      "templates/b.bak": "x",
      "secret/key": "x",
      "top-only.txt": "x",
      "sub/top-only.txt": "kept",
      "docs/readme.md": "x",
      "docs/deep/readme.md": "kept",
      "templates/.hidden.yaml": "x",
      "templates/tests/t.yaml": "x",
      "charts/_skip/Chart.yaml": "x",
      "notes.txt": "\uFEFFbom dropped",
    }
    const dir = copyChart(EXAMPLE_CHART, extra)
    const helm = helmHome()
    helm.ok(["package", dir, "-d", helm.home])
    const theirs = [...archiveFiles(readFileSync(join(helm.home, "meetinity-0.2.0.tgz")))].map(([path]) => path).sort()
    const ours = selectChartFiles(readChartFiles(dir))
      .map((f) => f.path)
      .sort()
    expect(ours).toEqual(theirs)
    expect(ours).toContain("sub/top-only.txt")
    expect(ours).toContain("docs/deep/readme.md")
    expect(ours).not.toContain("templates/.hidden.yaml")
    expect(
      Buffer.from(selectChartFiles(readChartFiles(dir)).find((f) => f.path === "notes.txt")!.data).toString(),
    ).toBe("bom dropped")
    // Helm's negation: a path a `!` rule does not match is ignored.
    expect(HelmIgnore.parse("!keep.txt").excludes("other.txt")).toBe(true)
    expect(HelmIgnore.parse("!keep.txt").excludes("keep.txt")).toBe(false)
  })
})

describe("packageChart", () => {
  test("refuses what helm package refuses, naming the argument", () => {
    const files = readChartFiles(EXAMPLE_CHART)
    expect(refusal(() => packageChart(files.filter((f) => !f.path.startsWith("charts/event-service"))))).toContain(
      'chart Chart.yaml dependencies ["event-service"] are not in charts/',
    )
    expect(refusal(() => packageChart(files.filter((f) => f.path !== "Chart.yaml")))).toContain(
      "has no Chart.yaml at its root",
    )
    expect(refusal(() => packageChart([...files, { path: "../x", contents: "" }]))).toContain(
      "is not a path inside the chart",
    )
    expect(refusal(() => packageChart([...files, { path: "charts/README.md", contents: "" }]))).toContain(
      "is a file directly in charts/",
    )
    expect(refusal(() => packageChart([...files, { path: "requirements.yaml", contents: "" }]))).toContain(
      "Helm 2's dependency list",
    )
    expect(
      refusal(() => packageChart([...files, { path: "big", contents: Buffer.alloc(5 * 1024 * 1024 + 1) }])),
    ).toContain("larger than 5242880 bytes")
    expect(refusal(() => packageChart(files, { created: "yesterday" }))).toContain(
      'created "yesterday" is not an RFC 3339 time',
    )
  })

  test("the annotations Helm derives from Chart.yaml", () => {
    const chart = packageChart(
      readChartFiles(
        copyChart(EXAMPLE_CHART, {
          "Chart.yaml":
            readFileSync(join(EXAMPLE_CHART, "Chart.yaml"), "utf8") +
            "home: https://x.io\nsources: [https://s.io, https://t.io]\nmaintainers: [{name: Ann, email: a@x.io}, {name: Bob}]\nannotations: {org.opencontainers.image.title: other, team: core}\n",
        }),
      ),
      { created: "2026-06-01T12:00:00Z" },
    )
    const manifest = JSON.parse(Buffer.from(chart.manifest.bytes).toString()) as { annotations: Record<string, string> }
    expect(manifest.annotations).toEqual({
      "org.opencontainers.image.authors": "Ann (a@x.io), Bob",
      "org.opencontainers.image.created": "2026-06-01T12:00:00Z",
      "org.opencontainers.image.description": expect.stringContaining("Example umbrella chart"),
      "org.opencontainers.image.source": "https://s.io",
      "org.opencontainers.image.title": "meetinity",
      "org.opencontainers.image.url": "https://x.io",
      "org.opencontainers.image.version": "0.2.0",
      team: "core",
    })
  })
})

describe("tar and comparison", () => {
  test("long and non-ASCII paths round-trip; links and bad checksums are refused", () => {
    const long = `${"d/".repeat(70)}file.yaml`
    const entries = [
      { path: "c/Chart.yaml", data: Buffer.from("x") },
      { path: long, data: Buffer.from("long") },
      { path: `c/${"n".repeat(120)}`, data: Buffer.from("pax") },
      { path: "c/été.txt", data: Buffer.from("utf8") },
    ]
    expect(readTarGz(writeTarGz(entries)).map((e) => [e.path, Buffer.from(e.data).toString()])).toEqual(
      entries.map((e) => [e.path, e.data.toString()]),
    )
    expect(writeTarGz(entries)).toEqual(writeTarGz(entries))
    expect(refusal(() => readTarGz(Buffer.from("not gzip")))).toContain("is not gzip")
    const tar = Buffer.from(gunzipSync(writeTarGz(entries.slice(0, 1))) as Buffer)
    tar[156] = "2".charCodeAt(0) // a symlink, its checksum made right again
    let sum = 0
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : tar[i]!
    tar.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1")
    expect(refusal(() => readTarGz(gzipSync(tar) as Buffer))).toContain("which is not a regular file (tar type 2)")
    tar[0] = 0x41
    expect(refusal(() => readTarGz(gzipSync(tar) as Buffer))).toContain("checksum is wrong")
  })

  test("the same chart reads the same; differences are named", () => {
    const chart = packageChart(readChartFiles(EXAMPLE_CHART))
    expect(compareChart(chart.layer.bytes, chart.files)).toEqual({ added: [], removed: [], changed: [] })
    const other = packageChart(
      readChartFiles(copyChart(EXAMPLE_CHART, { "values.yaml": "x: 1\n", "templates/new.yaml": "" })),
    )
    const difference = compareChart(chart.layer.bytes, other.files)
    expect(difference).toEqual({ added: ["templates/new.yaml"], removed: [], changed: ["values.yaml"] })
    expect(describeDifference(difference)).toBe("changed values.yaml; only in the directory templates/new.yaml")
    // A subchart is known by its name, wherever its directory is.
    const moved = chartContent(
      new Map(chart.files.map((f) => [f.path.replace("charts/api-gateway/", "charts/gw/"), f.data])),
    )
    expect([...moved.keys()]).toContain("charts/api-gateway/values.yaml")
    expect(
      directoryEntries([
        { path: "a", contents: Buffer.from([0xff]) },
        { path: "b", contents: "text" },
      ]),
    ).toEqual([
      { path: "a", contents: "/w==", encoding: "base64" },
      { path: "b", contents: "text", encoding: "utf8" },
    ])
  })
})
