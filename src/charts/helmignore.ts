/**
 * `.helmignore`, read as Helm 4 reads it (helm.sh/helm/v4 pkg/ignore): one rule a line, `#`
 * comments, `!` negation, a trailing `/` for directories only, a leading `/` anchored at the
 * chart's root, a rule with a `/` matched against the whole path, any other against the base
 * name, all with Go's `filepath.Match` glob (`*`, `?`, `[...]`, `[^...]`, `\` escapes), `**`
 * refused. Helm's default rule `templates/.?*` comes last. Rules are tried in order and the
 * first that decides wins; as in Helm, a negated rule that a path does not match ignores it
 * (so `!x` alone keeps only x). Pure.
 */
import { check } from "../common/errors.js"

/** One rule of a `.helmignore` file. */
interface Rule {
  readonly raw: string
  readonly negate: boolean
  readonly mustDir: boolean
  readonly match: (path: string) => boolean
}

/** The rules of a chart: its `.helmignore` (absent: none), then Helm's default. */
export class HelmIgnore {
  private constructor(private readonly rules: readonly Rule[]) {}

  /** Parses a `.helmignore` (a BOM on its first line is dropped, as Helm does) and adds Helm's default. */
  static parse(text: string | undefined, argument = ".helmignore"): HelmIgnore {
    const rules: Rule[] = []
    const lines = (text ?? "").replace(/^\uFEFF/, "").split(/\r?\n/)
    lines.forEach((line, index) => {
      const rule = parseRule(line, argument, index + 1)
      if (rule) rules.push(rule)
    })
    rules.push(parseRule("templates/.?*", "Helm's default rule", 1)!)
    return new HelmIgnore(rules)
  }

  /** Does Helm ignore this path (relative, `/`-separated), a directory or a file? */
  ignores(path: string, isDir: boolean): boolean {
    if (path === "" || path === "." || path === "./") return false
    for (const rule of this.rules) {
      if (rule.negate) {
        if (rule.mustDir && !isDir) return true
        if (!rule.match(path)) return true
        continue
      }
      if (rule.mustDir && !isDir) continue
      if (rule.match(path)) return true
    }
    return false
  }

  /** Does Helm leave this file out of the chart: the file itself, or one of its directories? */
  excludes(file: string): boolean {
    const parts = file.split("/")
    for (let i = 1; i < parts.length; i++) if (this.ignores(parts.slice(0, i).join("/"), true)) return true
    return this.ignores(file, false)
  }
}

function parseRule(line: string, argument: string, lineNumber: number): Rule | undefined {
  let rule = line.trim()
  if (rule === "" || rule.startsWith("#")) return undefined
  const where = `${argument} line ${lineNumber}`
  check(
    !rule.includes("**"),
    where,
    rule,
    "uses **, which Helm refuses (double-star (**) syntax is not supported): write the pattern for each level",
  )
  const raw = rule
  const negate = rule.startsWith("!")
  if (negate) rule = rule.slice(1)
  const mustDir = rule.endsWith("/")
  if (mustDir) rule = rule.slice(0, -1)
  // Helm checks the pattern as Go compiles it, before the ! and / are taken off.
  globToRegExp(raw, where)
  if (rule.startsWith("/")) {
    const pattern = globToRegExp(rule.slice(1), where)
    return { raw, negate, mustDir, match: (path) => pattern.test(path) }
  }
  const pattern = globToRegExp(rule, where)
  if (rule.includes("/")) return { raw, negate, mustDir, match: (path) => pattern.test(path) }
  return { raw, negate, mustDir, match: (path) => pattern.test(path.slice(path.lastIndexOf("/") + 1)) }
}

const SPECIAL = /[\\^$.*+?()[\]{}|/]/

/**
 * Go's `filepath.Match` pattern as a regular expression over the whole name: `*` any run of
 * characters but `/`, `?` one character but `/`, `[...]` a class (`^` negates; a class may match
 * `/`, as in Go), `\` escapes the next character. A malformed pattern is refused, as Go refuses it.
 */
export function globToRegExp(pattern: string, argument: string): RegExp {
  const bad = (why: string) =>
    check(false, argument, pattern, `is not a pattern Helm can read (${why}): Go's filepath.Match syntax is expected`)
  const chars = [...pattern]
  let out = "^"
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!
    if (c === "*") out += "[^/]*"
    else if (c === "?") out += "[^/]"
    else if (c === "\\") {
      const next = chars[++i]
      if (next === undefined) bad("it ends with \\")
      out += escape(next!)
    } else if (c === "[") {
      let j = i + 1
      let cls = ""
      if (chars[j] === "^") {
        cls += "^"
        j++
      }
      let ranges = 0
      for (;;) {
        const start = chars[j]
        if (start === undefined) bad("a [ is not closed")
        if (start === "]" && ranges > 0) break
        const lo = classChar(chars, j, bad)
        j = lo.next
        let item = escapeInClass(lo.char)
        if (chars[j] === "-") {
          const hi = classChar(chars, j + 1, bad)
          j = hi.next
          if (hi.char < lo.char) bad(`the range ${lo.char}-${hi.char} is backwards`)
          item += `-${escapeInClass(hi.char)}`
        }
        cls += item
        ranges++
      }
      out += `[${cls}]`
      i = j
    } else out += escape(c)
  }
  return new RegExp(`${out}$`, "u")
}

/** One character of a class, escaped or not; `-` and `]` must be escaped where a character is expected. */
function classChar(
  chars: readonly string[],
  at: number,
  bad: (why: string) => void,
): { readonly char: string; readonly next: number } {
  const c = chars[at]
  if (c === undefined) bad("a [ is not closed")
  if (c === "-" || c === "]") bad(`a ${c} stands where a character is expected in [...]`)
  if (c === "\\") {
    const next = chars[at + 1]
    if (next === undefined) bad("it ends with \\")
    return { char: next!, next: at + 2 }
  }
  return { char: c!, next: at + 1 }
}

const escape = (c: string) => (SPECIAL.test(c) ? `\\${c}` : c)
const escapeInClass = (c: string) => (c === "-" ? "\\-" : escape(c))
