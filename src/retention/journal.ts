/**
 * The journal: one line per deletion event, written to the run's log as it goes, each deletion
 * before its DELETE is sent. A run that is killed or cancelled writes no report, but its log (the
 * workflow keeps it as a file, uploaded whatever happened) names every version whose DELETE was
 * sent, the one in flight included, with its package version id; `restore --journal` takes that
 * log as it is (with whatever the CI or `dagger --progress plain` put before each line).
 */
import { InvalidArgumentError, quote } from "../common/errors.js"

/** What happened to a version, as the journal says it. */
export type JournalEvent = "deleting" | "deleted" | "already gone" | "unconfirmed" | "not deleted"

const PREFIX = "retain journal:"

/** One journal line: `retain journal: deleting meetinity/api-gateway version 123 sha256:… sha-0123abc`. */
export function journalLine(
  event: JournalEvent,
  pkg: string,
  version: { readonly id: number; readonly digest: string; readonly tags: readonly string[] },
  why?: string,
): string {
  const tags = version.tags.length > 0 ? version.tags.join(",") : "(untagged)"
  return `${PREFIX} ${event} ${pkg} version ${version.id} ${version.digest} ${tags}${why ? ` (${why.replace(/\s+/g, " ")})` : ""}`
}

const LINE = new RegExp(
  `${PREFIX} (deleting|deleted|already gone|unconfirmed|not deleted) (\\S+) version (\\d{1,15}) (sha256:[0-9a-f]{64})`,
  "g",
)

/**
 * The versions of `pkg` (`owner/package`, the owner in any case) a journal says this run may have
 * deleted: every one whose DELETE was sent (a `deleting` line), unless a later line says GitHub
 * did not delete it (`not deleted`) or it was gone before (`already gone`). In the journal's order.
 */
export function idsFromJournal(text: string, pkg: string, argument = "journal"): number[] {
  const events = [...text.matchAll(LINE)].map((m) => ({ event: m[1] as JournalEvent, pkg: m[2]!, id: Number(m[3]) }))
  if (events.length === 0) {
    throw new InvalidArgumentError(
      argument,
      `(${text.length} characters)`,
      `has no "${PREFIX}" line: expected the log of a retain run (the file the workflow uploads as retention-journal, or the job's log)`,
    )
  }
  const mine = events.filter((e) => e.pkg.toLowerCase() === pkg.toLowerCase())
  if (mine.length === 0) {
    const others = [...new Set(events.map((e) => e.pkg))]
    throw new InvalidArgumentError(
      argument,
      others,
      `names no deletion of ${quote(pkg)}: pass --owner and --image of a package it lists`,
    )
  }
  const sent = new Set<number>()
  for (const { event, id } of mine) {
    if (event === "deleting") sent.add(id)
    else if (event === "not deleted" || event === "already gone") sent.delete(id)
  }
  return [...sent]
}
