#!/usr/bin/env zx
// Prints vitest's JSON report as the plain closing line CI counts: "N passed, N failed[, N skipped]".
import { readFileSync } from "node:fs"

const file =
  process.argv.slice(2).find((arg) => arg.endsWith(".json") && !arg.endsWith("summary.mjs")) ?? ".cache/vitest.json"
let report
try {
  report = JSON.parse(readFileSync(file, "utf8"))
} catch (error) {
  console.log(`summary: no vitest report at ${file} (${error.message})`)
  console.log("0 passed, 1 failed")
  process.exit(1)
}
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
// A test file that fails to load has no failed test in it, yet the run failed: count it.
const failed =
  report.numFailedTests > 0 || report.success !== false
    ? report.numFailedTests
    : Math.max(1, report.numFailedTestSuites ?? 0)
console.log(`${report.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`)
