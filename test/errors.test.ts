/**
 * The value an argument error quotes: readable whatever the caller passed (a pasted log, a
 * right-to-left override, a newline that would forge a second log line).
 */
import { describe, expect, test } from "vitest"

import { check, InvalidArgumentError, quote, QUOTE_LIMIT } from "../src/common/errors.js"
import { parseRetainArgs } from "../src/retention/inputs.js"

const args = {
  owner: "meetinity",
  image: "api-gateway",
  keep: 30,
  dryRun: true,
  maxDeletions: 1000,
  githubApiUrl: "https://api.github.com",
  registry: "ghcr.io",
  graceMinutes: 0,
}

describe("quoting a value in an argument error", () => {
  test.each([
    ["a right-to-left override is escaped, not obeyed", "api\u202Egpj.exe", '"api\\u202egpj.exe"'],
    ["a newline cannot forge a second log line", "api\nNothing was deleted", '"api\\nNothing was deleted"'],
    ["zero-width and isolate characters are shown", "a\u200bb\u2066c\u2069", '"a\\u200bb\\u2066c\\u2069"'],
    ["a line separator is shown", "a\u2028b", '"a\\u2028b"'],
    ["an escape character is shown", "a\u001b[31mred", '"a\\u001b[31mred"'],
    ["ordinary text, quotes and accents stay as they are", 'Café "x"', '"Café \\"x\\""'],
    ["an empty string stays visible", "", '""'],
  ])("%s", (_name, value, expected) => {
    expect(quote(value)).toBe(expected)
  })

  test("a long value is cut to a readable length, saying how much was left out", () => {
    const value = `${"x".repeat(5000)}\u202E`
    const quoted = quote(value)
    expect(quoted).toBe(`"${"x".repeat(80)}…" (5001 characters)`)
    expect(quoted.length).toBeLessThan(QUOTE_LIMIT)
  })

  test("a long list says how many items it had and quotes the first", () => {
    const quoted = quote(Array.from({ length: 400 }, (_, i) => `image-${i}\u202E`))
    expect(quoted).toBe('[400 items, the first "image-0\\u202e"]')
  })

  test("a value at the limit is quoted whole", () => {
    const value = "x".repeat(QUOTE_LIMIT - 2)
    expect(quote(value)).toBe(JSON.stringify(value))
  })

  test("check() and the argument parsers quote through it: the message stays one readable line", () => {
    expect(() => check(false, "image", "web\u202E\nx", "is not an image name")).toThrow(
      new InvalidArgumentError("image", "web\u202E\nx", "is not an image name"),
    )
    let message = ""
    try {
      parseRetainArgs({ ...args, image: `API\u202E${"A".repeat(3000)}\nforged line` })
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/^image "API\\u202eA{76}…" \(3016 characters\) is too long/)
    expect(message).not.toMatch(/[\n\u202E]/)
    expect(message.length).toBeLessThan(400)
  })
})
