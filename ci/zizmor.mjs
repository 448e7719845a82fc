#!/usr/bin/env zx
// Puts zizmor (the GitHub Actions security linter the workflow tests run) into .cache/zizmor/, a
// Python virtual environment: zizmor 1.32.0 from PyPI, each wheel's sha256 pinned in
// ci/zizmor-requirements.txt. Needs python3 (3.11 or newer) with its venv module (Debian/Ubuntu:
// the python3-venv package). Idempotent: does nothing when that version is already there.
import { $, fs, path } from "zx"

export const ZIZMOR_VERSION = "1.32.0"

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
const dir = path.join(root, ".cache", "zizmor")
const zizmor = path.join(dir, "bin", "zizmor")
const requirements = path.join(root, "ci", "zizmor-requirements.txt")
$.quiet = true

async function installed() {
  if (!fs.existsSync(zizmor)) return false
  const v = await $`${zizmor} --version`.nothrow()
  return v.exitCode === 0 && v.stdout.trim() === `zizmor ${ZIZMOR_VERSION}`
}

if (await installed()) {
  console.log(`tools: zizmor ${ZIZMOR_VERSION} in ${path.relative(root, dir)}`)
  process.exit(0)
}

const python = await $`python3 -c ${"import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"}`.nothrow()
if (python.exitCode !== 0) {
  throw new Error(
    `tools: zizmor needs python3 with its venv module (Debian/Ubuntu: apt-get install python3-venv); python3 said: ${python.stderr.trim() || "not found"}`,
  )
}
const [major, minor] = python.stdout.trim().split(".").map(Number)
if (major < 3 || (major === 3 && minor < 11))
  throw new Error(`tools: zizmor ${ZIZMOR_VERSION} needs Python 3.11 or newer, python3 is ${python.stdout.trim()}`)

await $`python3 -m venv --clear ${dir}`
await $`${path.join(dir, "bin", "pip")} install --quiet --disable-pip-version-check --require-hashes --only-binary :all: --no-deps -r ${requirements}`
if (!(await installed())) throw new Error(`tools: zizmor did not report version ${ZIZMOR_VERSION} after install`)
console.log(`tools: installed zizmor ${ZIZMOR_VERSION} in ${path.relative(root, dir)}`)
