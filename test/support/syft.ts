/** syft (v1.57.1, from ci/sign-tools.mjs), offline: an SPDX 2.3 JSON SBOM of an OCI image tarball. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OFFLINE_ENV, run, signTool } from "./sign-tools.js"
import type { RunResult } from "./tools.js"

/** The parts of an SPDX 2.3 document the tests read. */
export interface SpdxDocument {
  spdxVersion: string
  name: string
  documentNamespace: string
  creationInfo: { creators: string[]; created: string }
  packages: {
    SPDXID: string
    name: string
    versionInfo?: string
    externalRefs?: { referenceCategory: string; referenceType: string; referenceLocator: string }[]
  }[]
  files?: { fileName: string; SPDXID: string; checksums: { algorithm: string; checksumValue: string }[] }[]
  relationships?: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[]
}

/** Runs syft with the given arguments, no update check, a throwaway HOME and no network. */
export async function syft(args: string[]): Promise<RunResult> {
  const home = mkdtempSync(join(tmpdir(), "syft-"))
  try {
    return await run(signTool("syft"), args, {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      TMPDIR: home,
      SYFT_CHECK_FOR_APP_UPDATE: "false",
      ...OFFLINE_ENV,
    })
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

/**
 * The SPDX JSON SBOM of an `oci-archive` tarball (an OCI image layout in one tar, its members
 * named without a leading "./", which syft refuses). The document's root package is the image:
 * `name` (default: the archive's path) and versionInfo = the image manifest's digest.
 */
export async function spdxOfArchive(archive: string, name?: string): Promise<SpdxDocument> {
  const result = await syft([
    "scan",
    `oci-archive:${archive}`,
    ...(name ? ["--source-name", name] : []),
    "-o",
    "spdx-json",
    "-q",
  ])
  if (result.status !== 0) throw new Error(`syft scan failed (${result.status}): ${result.stderr}`)
  return JSON.parse(result.stdout) as SpdxDocument
}
