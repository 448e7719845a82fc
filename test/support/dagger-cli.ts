/**
 * What `dagger call` (v0.21) hands a function for one `[String]` flag: pflag's string slice,
 * which reads the value as one CSV record with Go's encoding/csv (commas split; a field in double
 * quotes keeps its commas, `""` inside it is one quote; a `"` inside an unquoted field is an
 * error; nothing is trimmed; a line break ends the record). A repeated flag appends. The real
 * CLI's answers to these rules are recorded in docs/engine-run.md.
 */
export function daggerListFlag(...occurrences: string[]): string[] {
  return occurrences.flatMap(csvRecord)
}

function csvRecord(value: string): string[] {
  if (value === "") return []
  const line = /^(?:"(?:[^"]|"")*"|[^"\n,]*)(?:,(?:"(?:[^"]|"")*"|[^"\n,]*))*/.exec(value)?.[0] ?? ""
  const raw = [...line.matchAll(/(?:^|,)("(?:[^"]|"")*"|[^",]*)/g)].map((match) => match[1]!)
  const rest = value.slice(line.length)
  if (rest !== "" && !rest.startsWith("\n")) {
    // Go's csv: a quote after the start of an unquoted field is bare; after a closing quote, extraneous.
    const last = raw.at(-1) ?? ""
    throw new Error(
      `invalid argument ${JSON.stringify(value)}: parse error: ${last.startsWith('"') || !rest.startsWith('"') ? 'extraneous or missing " in quoted-field' : 'bare " in non-quoted-field'}`,
    )
  }
  return raw.map((field) => (field.startsWith('"') ? field.slice(1, -1).replace(/""/g, '"') : field))
}
