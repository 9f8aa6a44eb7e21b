import type { MetricsSink } from "../export/metrics.js";
import type { RecordSink } from "../export/records.js";
import type { QosClaims } from "../ha/qos-claims.js";
import type { LegEndSink } from "../legs/leg-tracker.js";
import { qualityRecordBody, recordOf } from "../quality/record.js";
import type { QosObservation, RtcpObservation } from "../quality/types.js";
import type { EndedLegs, StatusSampler } from "./status-history.js";

/** Everything that consumes the router's results. */
export interface QualitySinks extends LegEndSink {
  rtcp(observation: RtcpObservation): void;
  qos(observation: QosObservation): void;
}

export interface QualitySinksOptions {
  readonly metrics: MetricsSink;
  readonly records: RecordSink;
  /** HA: a leg's end-of-call report is exported only by the replica that claims it. */
  readonly claims: QosClaims | null;
  /** The status page's ended legs and charts; null without the page. */
  readonly statusPage: { readonly ended: EndedLegs; readonly sampler: StatusSampler } | null;
  /** Wall clock (ms since epoch) for when a leg ended. */
  readonly now: () => number;
}

/** Where the routers' results go: the metrics, the quality records, and the status page. */
export function createQualitySinks(options: QualitySinksOptions): QualitySinks {
  const { metrics, records, claims, statusPage } = options;

  /** A leg's end: its QoS points, its quality record, and the status page's ended legs. */
  const exportQos = (observation: QosObservation): void => {
    metrics.recordQos(observation);
    const attributes = recordOf(observation);
    records.emit(attributes, qualityRecordBody(attributes));
    if (statusPage === null) return;
    const { values } = observation;
    statusPage.ended.add({
      instance: observation.instance,
      labels: observation.labels,
      mos: values.mosScore,
      mosEstimate: observation.mosEstimate,
      jitterAvgMs: values.jitterAvgMs,
      packetLoss: values.packetLoss,
      hangupCause: observation.hangup.cause,
      durationS: observation.hangup.durationS,
      endedAt: options.now(),
    });
    if (values.mosScore !== undefined) statusPage.sampler.endedMos(values.mosScore);
  };

  return {
    rtcp: (observation) => metrics.recordRtcp(observation),
    qos: (observation) => {
      if (claims === null) {
        exportQos(observation);
        return;
      }
      void claims.claim(observation.labels.channelId, observation.instance).then((first) => {
        if (first) exportQos(observation);
      });
    },
    legEnded: (uuid) => metrics.legEnded(uuid),
    legCompleted: (instance, labels) => metrics.recordCompleted({ instance, labels }),
  };
}
