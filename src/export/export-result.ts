import type { PushMetricExporter } from "@opentelemetry/sdk-metrics";

// The result every layer of the export passes on (sender.ts, the transports, the SDK's exporter
// interfaces of both signals).
//
// @opentelemetry/core's ExportResult, reached through the exporter interface: core is not one of
// our direct dependencies, and its enum values (SUCCESS = 0, FAILED = 1) are part of the OTel JS
// API contract, so restating the two we need is safer than importing a transitive package.
export type ExportResult = Parameters<Parameters<PushMetricExporter["export"]>[1]>[0];
export type ExportResultCode = ExportResult["code"];
export const SUCCESS: ExportResultCode = 0;
export const FAILED: ExportResultCode = 1;
