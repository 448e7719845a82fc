/**
 * The spans a test's code opened, caught in memory: a real OpenTelemetry tracer provider (the
 * Node one, with its async context, as the Dagger runtime registers) with an in-memory exporter,
 * registered as the global provider the SDK's getTracer() reads.
 */
import { trace } from "@opentelemetry/api"
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node"

export interface SpanCatcher {
  /** Every span that ended since the last reset, in the order they ended. */
  spans(): ReadableSpan[]
  /** The ended span of that name (the first, when several). */
  span(name: string): ReadableSpan
  /** The name of a span's parent, or undefined for a root span. */
  parentOf(span: ReadableSpan): string | undefined
  reset(): void
}

let exporter: InMemorySpanExporter | undefined

/** Registers the provider once per test file (the global provider cannot be replaced), and returns the catcher. */
export function catchSpans(): SpanCatcher {
  if (!exporter) {
    exporter = new InMemorySpanExporter()
    const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    provider.register()
    if (!trace.getTracerProvider()) throw new Error("spans: no tracer provider registered")
  }
  const caught = exporter
  const spans = () => caught.getFinishedSpans()
  return {
    spans,
    span(name) {
      const found = spans().find((s) => s.name === name)
      if (!found)
        throw new Error(
          `no span ${JSON.stringify(name)}; spans: ${spans()
            .map((s) => s.name)
            .join(", ")}`,
        )
      return found
    },
    parentOf(span) {
      const parent = span.parentSpanContext?.spanId
      return parent ? spans().find((s) => s.spanContext().spanId === parent)?.name : undefined
    },
    reset: () => caught.reset(),
  }
}
