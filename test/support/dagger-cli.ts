/**
 * What `dagger call` (v0.21) hands a function for one list flag, transcribed from the CLI's own
 * list-flag parser (cmd/dagger/flags.go, sliceValue.Set, in the dagger/dagger repository): it
 * removes every `"`, `'` and backtick, reads the rest as one CSV record (so it splits on every
 * comma; a newline ends the record), and trims each element. A repeated flag appends. There is no
 * escape: a value with a comma or a quote cannot be passed in a list flag.
 */
export function daggerListFlag(...occurrences: string[]): string[] {
  return occurrences.flatMap((value) => {
    const unquoted = value.replace(/["'`]/g, "")
    if (unquoted === "") return []
    return unquoted.split("\n")[0]!.split(",").map((element) => element.trim())
  })
}
