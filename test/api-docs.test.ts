/**
 * docs/api.md is the module's public API in the repository, generated from the doc comments by
 * ci/api-docs.mjs through the SDK's introspection: this fails when the committed file is stale.
 */
import { readFileSync } from "node:fs"

import { beforeAll, describe, expect, test } from "vitest"

// @ts-expect-error ci/ holds plain ES modules without type declarations
import { API_DOC, renderApiDocs } from "../ci/api-docs.mjs"
import { introspectModule, type ModuleInfo } from "./support/introspection.js"

const render = renderApiDocs as (module: ModuleInfo) => string

let module: ModuleInfo
beforeAll(async () => {
  module = await introspectModule()
}, 120_000)

describe("docs/api.md", () => {
  test("is what ci/api-docs.mjs renders from src/ now (run npm run docs:api after changing a doc comment)", () => {
    expect(readFileSync(API_DOC as string, "utf8")).toBe(render(module))
  })

  test("names every function, and every argument with its type and default", () => {
    const doc = render(module)
    for (const fn of Object.values(module.functions)) {
      const cli = fn.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
      expect(doc).toContain(`## ${cli}\n`)
      for (const arg of Object.values(fn.arguments))
        expect(doc).toMatch(
          new RegExp(
            `\\| \`--${arg.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}\` \\| \`[^|]+\` \\| [^|]+ \\|`,
          ),
        )
    }
    expect(doc).toContain("| `--reader-token` | `Secret` | optional |")
    expect(doc).toContain("| `--keep` | `Int` | `30` |")
  })

  test("a changed doc comment makes the committed file stale", () => {
    const changed = structuredClone(module)
    changed.functions.version!.description += "\nA sentence added later."
    expect(render(changed)).not.toBe(readFileSync(API_DOC as string, "utf8"))
  })

  test("refers to nothing outside the repository", () => {
    expect(render(module)).not.toMatch(/\.\.\/|\/work\//)
  })
})
