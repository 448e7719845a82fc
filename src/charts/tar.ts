/**
 * Chart archives: a gzipped tar of regular files, written deterministically (entries in the
 * order given, mode 0644, uid and gid 0, no user or group names, mtime 0, gzip without a name or
 * time) and read back with a small ustar reader (ustar, GNU and PAX headers; directories and
 * PAX records skipped, links refused), within limits (Helm's by default: 5 MiB a file, 100 MiB
 * in all).
 * Pure: bytes in, bytes out (node:zlib only).
 */
import { gunzipSync, gzipSync } from "node:zlib"

/** Helm's limits on a chart archive (pkg/chart/loader/archive): a file, and all files unpacked. */
export const MAX_FILE_BYTES = 5 * 1024 * 1024
export const MAX_CHART_BYTES = 100 * 1024 * 1024

/** A file of an archive: its path inside the archive and its bytes. */
export interface TarEntry {
  readonly path: string
  readonly data: Uint8Array
}

const BLOCK = 512

/** A gzipped tar of `entries`, in that order: the same entries give the same bytes. */
export function writeTarGz(entries: readonly TarEntry[]): Uint8Array {
  const blocks: Uint8Array[] = []
  for (const entry of entries) {
    const { name, prefix, pax } = splitName(entry.path)
    if (pax) {
      const record = paxRecord("path", entry.path)
      blocks.push(header(`PaxHeaders/${entry.path.slice(-80).replace(/^.*\//, "")}`, "", record.length, "x"))
      blocks.push(padded(record))
    }
    blocks.push(header(name, prefix, entry.data.length, "0"))
    blocks.push(padded(entry.data))
  }
  blocks.push(new Uint8Array(BLOCK * 2))
  return new Uint8Array(gzipSync(Buffer.concat(blocks), { level: 9 }))
}

/** A ustar name: in `name` (100 bytes) alone, split at a `/` into `prefix` and `name`, or in a PAX record. */
function splitName(path: string): { name: string; prefix: string; pax: boolean } {
  const ascii = /^[\x20-\x7e]*$/.test(path)
  if (ascii && path.length <= 100) return { name: path, prefix: "", pax: false }
  if (ascii) {
    for (let i = path.indexOf("/"); i >= 0; i = path.indexOf("/", i + 1)) {
      if (i <= 155 && path.length - i - 1 <= 100 && path.length - i - 1 > 0)
        return { name: path.slice(i + 1), prefix: path.slice(0, i), pax: false }
    }
  }
  return { name: path.replace(/[^\x20-\x7e]/g, "_").slice(-100), prefix: "", pax: true }
}

/** `"<length> <key>=<value>\n"`, the length counting itself. */
function paxRecord(key: string, value: string): Uint8Array {
  const body = Buffer.from(` ${key}=${value}\n`)
  let length = body.length + 1
  while (String(length).length + body.length !== length) length = String(length).length + body.length
  return Buffer.concat([Buffer.from(String(length)), body])
}

function header(name: string, prefix: string, size: number, type: "0" | "x"): Uint8Array {
  const block = Buffer.alloc(BLOCK)
  const put = (text: string, at: number, width: number) => block.write(text, at, width, "latin1")
  const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, "0") + "\0"
  put(name, 0, 100)
  put(octal(0o644, 8), 100, 8)
  put(octal(0, 8), 108, 8)
  put(octal(0, 8), 116, 8)
  put(octal(size, 12), 124, 12)
  put(octal(0, 12), 136, 12)
  put("        ", 148, 8)
  put(type, 156, 1)
  put("ustar\u000000", 257, 8)
  put(prefix, 345, 155)
  let sum = 0
  for (const byte of block) sum += byte
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8)
  return block
}

function padded(data: Uint8Array): Uint8Array {
  const rest = data.length % BLOCK
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)])
}

/** A chart archive is not what Helm would load. */
export class ChartArchiveError extends Error {
  override name = "ChartArchiveError"
}

/**
 * The regular files of a gzipped tar, in archive order, with their full paths. Refuses what is
 * not gzip or not tar, links and devices, a bad header checksum, and more than Helm's limits.
 */
export function readTarGz(
  archive: Uint8Array,
  what = "the chart archive",
  limits: { readonly file: number; readonly total: number } = { file: MAX_FILE_BYTES, total: MAX_CHART_BYTES },
): TarEntry[] {
  let tar: Buffer
  try {
    tar = gunzipSync(archive, { maxOutputLength: limits.total + 1024 * 1024 })
  } catch (error) {
    const code = (error as { code?: string }).code
    throw new ChartArchiveError(
      code === "ERR_BUFFER_TOO_LARGE"
        ? `${what} unpacks to more than ${limits.total} bytes`
        : `${what} is not gzip (${(error as Error).message})`,
    )
  }
  const entries: TarEntry[] = []
  let longName: string | undefined
  let paxPath: string | undefined
  let total = 0
  for (let at = 0; at + BLOCK <= tar.length;) {
    const block = tar.subarray(at, at + BLOCK)
    if (block.every((b) => b === 0)) break
    if (checksum(block) !== octalField(block, 148, 8))
      throw new ChartArchiveError(`${what} is not a tar archive (a header's checksum is wrong at byte ${at})`)
    const size = sizeField(block)
    const type = String.fromCharCode(block[156]!)
    const data = tar.subarray(at + BLOCK, at + BLOCK + size)
    if (data.length < size) throw new ChartArchiveError(`${what} ends inside a file`)
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK
    const ustar = block.toString("latin1", 257, 263) === "ustar\0"
    const prefix = ustar ? cString(block, 345, 155) : ""
    const name = paxPath ?? longName ?? (prefix ? `${prefix}/${cString(block, 0, 100)}` : cString(block, 0, 100))
    if (type === "x") {
      paxPath = parsePax(data).path ?? paxPath
      continue
    }
    if (type === "L") {
      longName = data.toString("utf8").replace(/\0.*$/s, "")
      continue
    }
    paxPath = longName = undefined
    if (type === "g" || type === "5" || type === "K") continue
    if (type !== "0" && type !== "\0" && type !== "7")
      throw new ChartArchiveError(
        `${what} holds ${JSON.stringify(name)}, which is not a regular file (tar type ${type})`,
      )
    if (size > limits.file)
      throw new ChartArchiveError(`${what} holds ${name}, larger than the limit of ${limits.file} bytes a file`)
    total += size
    if (total > limits.total) throw new ChartArchiveError(`${what} unpacks to more than ${limits.total} bytes`)
    entries.push({ path: name, data: new Uint8Array(data) })
  }
  return entries
}

function checksum(block: Buffer): number {
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!
  return sum
}

const cString = (block: Buffer, at: number, width: number) =>
  block.toString("utf8", at, at + width).replace(/\0.*$/s, "")

function octalField(block: Buffer, at: number, width: number): number {
  const text = block
    .toString("latin1", at, at + width)
    .replace(/[\0 ]+$/g, "")
    .trim()
  return text === "" ? 0 : parseInt(text, 8)
}

/** The size field: octal, or GNU's base-256 (high bit set) for large sizes. */
function sizeField(block: Buffer): number {
  if ((block[124]! & 0x80) === 0) return octalField(block, 124, 12)
  let size = block[124]! & 0x7f
  for (let i = 125; i < 136; i++) size = size * 256 + block[i]!
  return size
}

/** The records of a PAX extended header. */
function parsePax(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {}
  for (let at = 0; at < data.length;) {
    const space = data.indexOf(0x20, at)
    const length = space < 0 ? NaN : Number(data.toString("latin1", at, space))
    if (!Number.isInteger(length) || length <= 0 || at + length > data.length) break
    const record = data.toString("utf8", space + 1, at + length).replace(/\n$/, "")
    const eq = record.indexOf("=")
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1)
    at += length
  }
  return records
}
