import type {
  AggregationTemporality,
  InstrumentType,
  PushMetricExporter,
} from "@opentelemetry/sdk-metrics";

// What the layers of the exporter chains share: metrics (batches → retry → counting → gRPC) and
// the quality records (retry → gRPC). The SDK's logs exporter interface uses the same type.
//
// @opentelemetry/core's ExportResult, reached through the exporter interface: core is not one of
// our direct dependencies, and its enum values (SUCCESS = 0, FAILED = 1) are part of the OTel JS
// API contract, so restating the two we need is safer than importing a transitive package.
export type ExportResult = Parameters<Parameters<PushMetricExporter["export"]>[1]>[0];
export type ExportResultCode = ExportResult["code"];
export const SUCCESS: ExportResultCode = 0;
export const FAILED: ExportResultCode = 1;

/** A wrapping layer's temporality: the wrapped exporter chooses (the reader asks the outermost). */
export function wrappedTemporality(
  inner: PushMetricExporter,
  instrumentType: InstrumentType,
): AggregationTemporality {
  const select = inner.selectAggregationTemporality;
  if (select === undefined) throw new Error("the wrapped exporter chooses no temporality");
  return select.call(inner, instrumentType);
}
