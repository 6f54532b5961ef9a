import { Duration } from 'aws-cdk-lib'
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch'
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions'
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2'
import type * as sns from 'aws-cdk-lib/aws-sns'
import { Construct } from 'constructs'
import type { GpuTierConfig } from '../environments.ts'
import { serviceMetric } from '../service-metrics.ts'

export interface GpuAlarmsProps {
  config: GpuTierConfig
  loadBalancer: elbv2.IApplicationLoadBalancer
  targetGroup: elbv2.ApplicationTargetGroup
  topic: sns.ITopic
}

/** Below this many requests in 5 minutes a 5xx rate is noise (1 of 3 is not an incident). */
const MIN_REQUESTS_FOR_5XX_RATE = 20

/**
 * The GPU tier's alarms, each notifying the topic when it fires and when it clears:
 * - target 5xx rate (includes the service's 503 load shedding, which the edge retries);
 * - p99 target response time;
 * - queue saturation: the service turned requests away for 3 minutes in a row, i.e. scaling is not
 *   keeping up or has hit maxTasks;
 * - unhealthy targets for longer than any model load;
 * - no healthy target at all (only with a warm minimum: a parked tier has none by design);
 * - with `minTasks: 0` instead: the wake-up is overdue, i.e. the ALB has had no task to send
 *   requests to for 25 minutes, longer than the estimated cold start and than the edge queue
 *   retries a job.
 */
export class GpuAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = []

  constructor(scope: Construct, id: string, { config, loadBalancer, targetGroup, topic }: GpuAlarmsProps) {
    super(scope, id)
    const prefix = `snoopi-gpu-${config.name}`
    const fiveMinutes = Duration.minutes(5)

    const target5xxRate = new cloudwatch.MathExpression({
      label: 'target 5xx %',
      expression: `IF(requests >= ${MIN_REQUESTS_FOR_5XX_RATE}, 100 * FILL(errors, 0) / requests, 0)`,
      usingMetrics: {
        requests: targetGroup.metrics.requestCount({ period: fiveMinutes }),
        errors: targetGroup.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: fiveMinutes }),
      },
      period: fiveMinutes,
    })
    this.add(target5xxRate.createAlarm(this, 'Target5xxRate', {
      alarmName: `${prefix}-target-5xx-rate`,
      alarmDescription: `More than ${config.alarms.target5xxPercent}% of GPU service responses were 5xx for 10 minutes (503 = load shedding, 504 = deadline).`,
      threshold: config.alarms.target5xxPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }))

    this.add(targetGroup.metrics.targetResponseTime({ statistic: cloudwatch.Stats.p(99), period: fiveMinutes }).createAlarm(this, 'P99ResponseTime', {
      alarmName: `${prefix}-p99-response-time`,
      alarmDescription: `p99 of the GPU service's response time above ${config.alarms.p99ResponseTimeS} s for 15 minutes.`,
      threshold: config.alarms.p99ResponseTimeS,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }))

    this.add(serviceMetric(config.name, 'QueueFullErrors').createAlarm(this, 'QueueSaturation', {
      alarmName: `${prefix}-queue-saturation`,
      alarmDescription: `The GPU service's queue (MAX_QUEUE_IMAGES=${config.service.maxQueueImages}) was full in 3 consecutive minutes: scaling is not keeping up, or the service is at maxTasks (${config.maxTasks}).`,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }))

    // A loading task fails /readyz (so counts as unhealthy) for up to the grace period; only a
    // target unhealthy for three whole 5-minute periods is a problem.
    this.add(targetGroup.metrics.unhealthyHostCount({ statistic: cloudwatch.Stats.MINIMUM, period: fiveMinutes }).createAlarm(this, 'UnhealthyTargets', {
      alarmName: `${prefix}-unhealthy-targets`,
      alarmDescription: 'A GPU task has failed its /readyz health check for 15 minutes.',
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }))

    if (config.minTasks > 0) {
      this.add(targetGroup.metrics.healthyHostCount({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) }).createAlarm(this, 'NoHealthyTargets', {
        alarmName: `${prefix}-no-healthy-targets`,
        alarmDescription: 'No GPU task is ready: every generation fails at the origin.',
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }))
    } else {
      // A sleeping tier answers 503 (no target) until its first task is ready (SleepAtZero); a cold
      // start is estimated at 8–20 minutes (infra/README.md), so 503s in each of 5 five-minute
      // periods mean it is not coming up (capacity, image, model), or every task has gone.
      this.add(loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_503_COUNT, { statistic: cloudwatch.Stats.SUM, period: fiveMinutes }).createAlarm(this, 'WakeOverdue', {
        alarmName: `${prefix}-wake-overdue`,
        alarmDescription: 'For 25 minutes the ALB has had no GPU task to send requests to (its own 503s): the wake-up from 0 tasks has not produced a ready task, and queued jobs outlive the edge queue\'s retries.',
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }))
    }

    const action = new actions.SnsAction(topic)
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(action)
      alarm.addOkAction(action)
    }
  }

  private add(alarm: cloudwatch.Alarm): void {
    this.alarms.push(alarm)
  }
}
