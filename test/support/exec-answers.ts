/**
 * The one answer loop for a recorded module's commands (support/dagger.ts), shared by every
 * stand-in engine of the tests (the host engine, delivery's and rehearse's recorded engines):
 * a container's command runs once however many of its results the module reads (exit code,
 * stdout, stderr, or the file a quiet command wrote its stdout to, see `quietly` in
 * src/delivery/cluster.ts), and the command is handed over as the program sees it.
 */
import { QUIET_STDOUT } from "../../src/delivery/cluster.js"
import { argValue, type Query } from "./dagger.js"

/** What one command printed, and how it ended. */
export interface Ran {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/** A command as the module sent it: its program's arguments, and whether its stdout went to a file. */
export interface Command {
  readonly args: string[]
  readonly quiet: boolean
}

/** The module's quiet wrapper (`sh -c 'exec "$@" >FILE' sh <args>`) taken off, or the arguments as sent. */
export function unwrap(sent: readonly string[]): Command {
  const wrapped = sent[0] === "sh" && sent[1] === "-c" && sent[2] === `exec "$@" >${QUIET_STDOUT}` && sent[3] === "sh"
  return wrapped ? { args: sent.slice(4), quiet: true } : { args: [...sent], quiet: false }
}

/**
 * Answers the exec leaves of a query (`exitCode`, `stdout`, `stderr`, and `file(path).contents`
 * after a quiet command) with what `execute` reports; undefined for any other query. A quiet
 * command's stdout is only in its file, as on an engine.
 */
export function execAnswers(execute: (command: Command, query: Query) => Promise<Ran>) {
  const results = new Map<string, Promise<{ ran: Ran; command: Command }>>()
  return async (query: Query): Promise<unknown> => {
    const exec = query.chain.find((c) => c.field === "withExec")
    if (!exec) return undefined
    const fileRead = query.leaf === "contents" && query.chain.at(-2)?.field === "file"
    if (!fileRead && !["exitCode", "stdout", "stderr"].includes(query.leaf)) return undefined
    // The container up to its command: the same text for each result read of it.
    const read = fileRead ? /\bfile\s*\(path:[^()]*\)\s*\{\s*contents[\s}]*$/ : new RegExp(`\\b${query.leaf}[\\s}]*$`)
    const container = query.text.slice(0, query.text.search(read))
    let result = results.get(container)
    if (!result) {
      const command = unwrap(argValue(exec.args, "args") as string[])
      result = execute(command, query).then((ran) => ({ ran, command }))
      results.set(container, result)
    }
    const { ran, command } = await result
    if (fileRead) {
      const path = argValue(query.chain.at(-2)!.args, "path")
      if (!command.quiet || path !== QUIET_STDOUT) throw new Error(`no file ${String(path)} in this container`)
      return ran.stdout
    }
    if (query.leaf === "stdout") return command.quiet ? "" : ran.stdout
    return ran[query.leaf as "exitCode" | "stderr"]
  }
}
