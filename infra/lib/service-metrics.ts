import { Duration } from 'aws-cdk-lib'
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch'
import type { EnvironmentName } from './environments.ts'

/**
 * The metrics the GPU service publishes itself, as CloudWatch Embedded Metric Format lines on stdout
 * every 10 s (gpu-service/src/metrics/emf-publisher.ts); CloudWatch Logs turns them into metrics
 * when the awslogs driver ships the lines. The names here are that contract.
 */
export const SERVICE_METRICS_NAMESPACE = 'SNOOPI/GpuService'

export type ServiceMetricName = 'InFlightRequests' | 'QueueDepthImages' | 'ImagesGenerated' | 'QueueFullErrors'

/**
 * One service metric of one environment. Every task writes the same dimension (`Environment` only),
 * so `Average` over a period is the mean per task per report, which is what target tracking wants:
 * "in-flight requests per task". Counts since the previous report (`ImagesGenerated`,
 * `QueueFullErrors`) are summed instead.
 */
export function serviceMetric(environment: EnvironmentName, metricName: ServiceMetricName, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: SERVICE_METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { Environment: environment },
    statistic: metricName === 'ImagesGenerated' || metricName === 'QueueFullErrors' ? cloudwatch.Stats.SUM : cloudwatch.Stats.AVERAGE,
    period: Duration.minutes(1),
    ...options,
  })
}
