import { Duration } from 'aws-cdk-lib'
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling'
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch'
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions'
import type * as ecs from 'aws-cdk-lib/aws-ecs'
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2'
import { Construct } from 'constructs'
import type { EnvironmentName } from '../environments.ts'

export interface SleepAtZeroProps {
  environment: EnvironmentName
  /** The service's scalable task count (its scalable target), with a minimum of 0. */
  scaling: ecs.ScalableTaskCount
  loadBalancer: elbv2.IApplicationLoadBalancer
  targetGroup: elbv2.ApplicationTargetGroup
}

/**
 * The wake policy sets the count to exactly 1, so a repeat of it changes nothing: no over-scaling
 * to guard against. A short cooldown lets it act again within a minute if the count fell back
 * to 0 meanwhile (the sleep policy, or a task that stopped before it was ready).
 */
export const WAKE_COOLDOWN = Duration.minutes(1)
/** Minutes in a row without one request (served or turned away) before the tier goes to 0. */
export const SLEEP_AFTER_IDLE_MINUTES = 15
/** Same as the target-tracking scale-in cooldown (gpu-service.ts). */
export const SLEEP_COOLDOWN = Duration.minutes(15)

/**
 * Scaling from and to zero tasks, for an environment with `minTasks: 0`.
 *
 * Why target tracking alone cannot do it: its metric, InFlightRequests, is published by ready tasks.
 * With no task there is no data, and target tracking does nothing on missing data, so it never
 * scales out from 0. Something that exists without a task has to see the demand.
 *
 * Wake (0 → 1): the ALB's own `HTTPCode_ELB_503_Count`. This load balancer has a fixed 404 for
 * every path but `/internal/*` and a redirect on port 80, so a 503 that the ALB itself answers
 * means a `/internal/*` request found no registered target: requests are arriving and no task
 * exists to take them. The target group's metrics cannot say that: its RequestCount only counts
 * requests for which the ALB chose a target (none, here), and HealthyHostCount = 0 also holds
 * during every cold start and says nothing about demand. (503s the service itself answers, load
 * shedding or not ready yet, are target 5xx and do not count here.) The step policy sets the
 * desired count to exactly 1 (ExactCapacity, not +1): CloudWatch repeats a scaling action every
 * minute its alarm stays in ALARM, and the alarm stays there for the whole cold start (the edge's
 * job queue keeps retrying), where +1 would add a task per cooldown. ECS's capacity provider then
 * launches a GPU instance for the pending task (managed scaling); from a task on, target tracking
 * takes over.
 *
 * Sleep (→ 0): no request at all, neither served by the target group nor turned away by the ALB,
 * for SLEEP_AFTER_IDLE_MINUTES in a row, sets the count to 0. The turned-away 503s count as demand,
 * or this alarm would sit in ALARM during a wake-up (no served requests yet) and undo it every
 * minute. Target tracking may get there on its own (with a minimum of 0 it can scale in to 0 when
 * in-flight stays at 0 through its scale-in window; it rounds conservatively, keeping a task while
 * anything is in flight), but how it rounds is AWS's, undocumented; this policy makes the idle
 * period that parks the tier a stated one. The ALB cuts a request after its idle timeout (120 s),
 * far below the idle window, so nothing is running when it acts; ECS drains the task anyway.
 */
export class SleepAtZero extends Construct {
  readonly wakeAlarm: cloudwatch.Alarm
  readonly wakePolicy: appscaling.StepScalingAction
  readonly sleepAlarm: cloudwatch.Alarm
  readonly sleepPolicy: appscaling.StepScalingAction

  constructor(scope: Construct, id: string, { environment, scaling, loadBalancer, targetGroup }: SleepAtZeroProps) {
    super(scope, id)
    const prefix = `snoopi-gpu-${environment}`
    const minute = Duration.minutes(1)
    const turnedAway = loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_503_COUNT, { period: minute, statistic: cloudwatch.Stats.SUM })

    this.wakePolicy = new appscaling.StepScalingAction(this, 'WakePolicy', {
      scalingTarget: scaling,
      adjustmentType: appscaling.AdjustmentType.EXACT_CAPACITY,
      cooldown: WAKE_COOLDOWN,
      metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
    })
    // Any breach (503s above the threshold of 0) → exactly 1 task.
    this.wakePolicy.addAdjustment({ lowerBound: 0, adjustment: 1 })
    this.wakeAlarm = turnedAway.createAlarm(this, 'WakeAlarm', {
      alarmName: `${prefix}-wake`,
      alarmDescription: 'The ALB answered 503 itself (no GPU task registered) in the last minute: wakes the tier to 1 task. Not an incident; see wake-overdue.',
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      // The metric is only reported when non-zero: no data is no 503.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    })
    this.wakeAlarm.addAlarmAction(new actions.ApplicationScalingAction(this.wakePolicy))

    const demand = new cloudwatch.MathExpression({
      label: 'requests served + turned away (no task)',
      expression: 'FILL(served, 0) + FILL(turnedAway, 0)',
      usingMetrics: { served: targetGroup.metrics.requestCount({ period: minute }), turnedAway },
      period: minute,
    })
    this.sleepPolicy = new appscaling.StepScalingAction(this, 'SleepPolicy', {
      scalingTarget: scaling,
      adjustmentType: appscaling.AdjustmentType.EXACT_CAPACITY,
      cooldown: SLEEP_COOLDOWN,
      metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
    })
    // Any breach (fewer than 1 request a minute) → 0 tasks.
    this.sleepPolicy.addAdjustment({ upperBound: 0, adjustment: 0 })
    this.sleepAlarm = demand.createAlarm(this, 'SleepAlarm', {
      alarmName: `${prefix}-sleep`,
      alarmDescription: `No request reached the GPU tier for ${SLEEP_AFTER_IDLE_MINUTES} minutes: parks it at 0 tasks (stays in ALARM while asleep). Not an incident.`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: SLEEP_AFTER_IDLE_MINUTES,
      datapointsToAlarm: SLEEP_AFTER_IDLE_MINUTES,
      // Both metrics are only reported when non-zero: no data is no request.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    })
    this.sleepAlarm.addAlarmAction(new actions.ApplicationScalingAction(this.sleepPolicy))
  }
}
