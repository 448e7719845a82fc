/**
 * What Dagger will register for this module (ci/introspect.mjs runs the SDK's own introspector
 * over src/), typed for the tests. Scanned once per test file.
 */
// @ts-expect-error ci/ holds plain ES modules without type declarations
import { introspectModule as scan } from "../../ci/introspect.mjs"

export interface ArgumentInfo {
  name: string
  description: string
  type: { kind: string; name?: string; typeDef?: { kind: string; name?: string } }
  isOptional: boolean
  isNullable: boolean
  defaultValue?: unknown
  /** A Directory or File argument loaded from the module's own files when not given. */
  defaultPath?: string
}

export interface FunctionInfo {
  name: string
  description: string
  cache?: string
  arguments: Record<string, ArgumentInfo>
  returnType: { kind: string; name?: string; typeDef?: { kind: string } }
}

export interface ModuleInfo {
  name: string
  description: string
  functions: Record<string, FunctionInfo>
}

let cached: Promise<ModuleInfo> | undefined

export function introspectModule(): Promise<ModuleInfo> {
  cached ??= (scan as () => Promise<ModuleInfo>)()
  return cached
}
