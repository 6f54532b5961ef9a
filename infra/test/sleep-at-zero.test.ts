import { Annotations, Match } from 'aws-cdk-lib/assertions'
import { AwsSolutionsChecks } from 'cdk-nag'
import { beforeAll, describe, expect, it } from 'vitest'
import { SLEEP_AFTER_IDLE_MINUTES } from '../lib/constructs/sleep-at-zero.ts'
import { SERVICE_METRICS_NAMESPACE } from '../lib/service-metrics.ts'
import { onlyResource, resourcesOf, synthesise, type SynthesisedGpuApp } from './synth.ts'

type Json = Record<string, unknown>
const ref = (id: string) => ({ Ref: id })

/** Staging opted in to sleeping: `-c minTasks=0` (the CLI passes strings). */
let app: SynthesisedGpuApp
beforeAll(() => {
  app = synthesise('staging', { minTasks: '0' })
})

const alarms = (): Json[] => Object.values(resourcesOf(app.tierTemplate, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties ?? {})
const alarmNamed = (suffix: string): Json => {
  const found = alarms().filter((a) => a.AlarmName === `snoopi-gpu-staging-${suffix}`)
  expect(found, `alarm ${suffix}`).toHaveLength(1)
  return found[0] ?? {}
}
const stepPolicies = () => Object.entries(resourcesOf(app.tierTemplate, 'AWS::ApplicationAutoScaling::ScalingPolicy')).filter(([, p]) => p.Properties?.PolicyType === 'StepScaling')
/** The step policy an alarm's only action points at. */
function policyOf(alarm: Json): { id: string; properties: Json } {
  const actions = alarm.AlarmActions as { Ref: string }[]
  expect(actions).toHaveLength(1)
  const id = (actions[0] as { Ref: string }).Ref
  const policy = resourcesOf(app.tierTemplate, 'AWS::ApplicationAutoScaling::ScalingPolicy')[id]
  expect(policy, `${id} is a scaling policy`).toBeDefined()
  return { id, properties: policy?.Properties ?? {} }
}
const loadBalancerDimension = () => [{ Name: 'LoadBalancer', Value: { 'Fn::GetAtt': [onlyResource(app.tierTemplate, 'AWS::ElasticLoadBalancingV2::LoadBalancer').id, 'LoadBalancerFullName'] } }]

describe('GPU tier with minTasks 0 (sleeping at zero)', () => {
  it('synthesises with a scalable target from 0, ECS capacity that can reach 0 instances, and cdk-nag clean', () => {
    expect(app.config.minTasks).toBe(0)
    for (const stack of [app.artifacts, app.tier]) expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([])
    const target = onlyResource(app.tierTemplate, 'AWS::ApplicationAutoScaling::ScalableTarget')
    expect(target.properties).toMatchObject({ MinCapacity: 0, MaxCapacity: app.config.maxTasks, ScalableDimension: 'ecs:service:DesiredCount' })
    // The capacity provider launches an instance for a pending task and removes idle ones down to 0.
    expect(onlyResource(app.tierTemplate, 'AWS::AutoScaling::AutoScalingGroup').properties.MinSize).toBe('0')
    expect(onlyResource(app.tierTemplate, 'AWS::ECS::CapacityProvider').properties.AutoScalingGroupProvider).toMatchObject({ ManagedScaling: { Status: 'ENABLED' } })
    expect(new AwsSolutionsChecks().validateScope(app.app).violations).toEqual([])
  })

  it('keeps target tracking on InFlightRequests for 1 task and up', () => {
    const tracking = Object.values(resourcesOf(app.tierTemplate, 'AWS::ApplicationAutoScaling::ScalingPolicy')).filter((p) => p.Properties?.PolicyType === 'TargetTrackingScaling')
    expect(tracking).toHaveLength(1)
    expect(tracking[0]?.Properties?.TargetTrackingScalingPolicyConfiguration).toMatchObject({
      TargetValue: app.config.targetInFlightPerTask,
      CustomizedMetricSpecification: { Namespace: SERVICE_METRICS_NAMESPACE, MetricName: 'InFlightRequests', Statistic: 'Average' },
    })
  })

  it("wakes on the ALB's own 503s: any in one minute", () => {
    const wake = alarmNamed('wake')
    expect(wake).toMatchObject({
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HTTPCode_ELB_503_Count',
      Dimensions: loadBalancerDimension(),
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    })
    // A scaling signal, not an incident: no notification either way.
    expect(wake.OKActions).toBeUndefined()
  })

  it('the wake alarm sets exactly 1 task (step scaling, ExactCapacity, a cooldown) on the service', () => {
    const { properties } = policyOf(alarmNamed('wake'))
    const target = onlyResource(app.tierTemplate, 'AWS::ApplicationAutoScaling::ScalableTarget')
    expect(properties).toMatchObject({ PolicyType: 'StepScaling', ScalingTargetId: ref(target.id) })
    expect(properties.StepScalingPolicyConfiguration).toEqual({
      AdjustmentType: 'ExactCapacity',
      Cooldown: 60,
      MetricAggregationType: 'Maximum',
      // Every breach of the threshold (0 503s) falls in this one step.
      StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }],
    })
  })

  it(`sleeps after ${SLEEP_AFTER_IDLE_MINUTES} minutes without a request served or turned away: ExactCapacity 0`, () => {
    const sleep = alarmNamed('sleep')
    expect(SLEEP_AFTER_IDLE_MINUTES).toBe(15)
    expect(sleep).toMatchObject({ Threshold: 1, ComparisonOperator: 'LessThanThreshold', EvaluationPeriods: 15, DatapointsToAlarm: 15, TreatMissingData: 'breaching' })
    const metrics = sleep.Metrics as { Id: string; Expression?: string; MetricStat?: { Metric: { MetricName: string; Namespace: string; Dimensions: { Name: string }[] }; Period: number; Stat: string } }[]
    const expression = metrics.find((m) => m.Expression)
    const stats = metrics.filter((m) => m.MetricStat)
    // Both count as demand: the served requests, and the 503s of requests that found no task
    // (without those, the alarm would undo every wake-up while the first task starts).
    expect(stats.map((m) => [m.MetricStat?.Metric.MetricName, m.MetricStat?.Metric.Namespace, m.MetricStat?.Stat, m.MetricStat?.Period]).sort()).toEqual([
      ['HTTPCode_ELB_503_Count', 'AWS/ApplicationELB', 'Sum', 60],
      ['RequestCount', 'AWS/ApplicationELB', 'Sum', 60],
    ])
    expect(stats.find((m) => m.MetricStat?.Metric.MetricName === 'RequestCount')?.MetricStat?.Metric.Dimensions.map((d) => d.Name).sort()).toEqual(['LoadBalancer', 'TargetGroup'])
    expect(stats.find((m) => m.MetricStat?.Metric.MetricName === 'HTTPCode_ELB_503_Count')?.MetricStat?.Metric.Dimensions).toEqual(loadBalancerDimension())
    expect(Object.fromEntries(stats.map((m) => [m.Id, m.MetricStat?.Metric.MetricName]))).toEqual({ served: 'RequestCount', turnedAway: 'HTTPCode_ELB_503_Count' })
    expect(expression?.Expression).toBe('FILL(served, 0) + FILL(turnedAway, 0)')

    const { properties } = policyOf(sleep)
    expect(properties).toMatchObject({ PolicyType: 'StepScaling', ScalingTargetId: ref(onlyResource(app.tierTemplate, 'AWS::ApplicationAutoScaling::ScalableTarget').id) })
    expect(properties.StepScalingPolicyConfiguration).toEqual({
      AdjustmentType: 'ExactCapacity',
      Cooldown: 900,
      MetricAggregationType: 'Maximum',
      StepAdjustments: [{ MetricIntervalUpperBound: 0, ScalingAdjustment: 0 }],
    })
    expect(stepPolicies()).toHaveLength(2)
  })

  it('replaces the no-healthy-target alarm (always true while asleep) with wake-overdue, to the topic', () => {
    const topic = onlyResource(app.tierTemplate, 'AWS::SNS::Topic')
    expect(alarms().filter((a) => a.MetricName === 'HealthyHostCount')).toEqual([])
    expect(alarmNamed('wake-overdue')).toMatchObject({
      MetricName: 'HTTPCode_ELB_503_Count',
      Dimensions: loadBalancerDimension(),
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 5,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [ref(topic.id)],
      OKActions: [ref(topic.id)],
    })
    // Everything but the two scaling alarms notifies the topic.
    const notifying = alarms().filter((a) => !['snoopi-gpu-staging-wake', 'snoopi-gpu-staging-sleep'].includes(a.AlarmName as string))
    expect(notifying).toHaveLength(5)
    for (const alarm of notifying) expect(alarm.AlarmActions).toEqual([ref(topic.id)])
  })
})

// (The default staging synthesis is gpu-tier-stack.test.ts's; -c minTasks=1 gives the same template.)
describe.each([
  ['staging, -c minTasks=1', 'staging', { minTasks: '1' }],
  ['production, default', 'production', {}],
] as const)('GPU tier with minTasks ≥ 1 (%s)', (_label, environment, context) => {
  let warm: SynthesisedGpuApp
  beforeAll(() => {
    warm = synthesise(environment, context)
  })

  it('has no wake or sleep alarm and no step-scaling policy: target tracking only', () => {
    expect(warm.config.minTasks).toBeGreaterThanOrEqual(1)
    const policies = Object.values(resourcesOf(warm.tierTemplate, 'AWS::ApplicationAutoScaling::ScalingPolicy'))
    expect(policies.map((p) => p.Properties?.PolicyType)).toEqual(['TargetTrackingScaling'])
    const all = Object.values(resourcesOf(warm.tierTemplate, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties as Json)
    expect(JSON.stringify(all)).not.toContain('HTTPCode_ELB_503_Count')
    expect(all.map((a) => a.AlarmName)).not.toEqual(expect.arrayContaining([expect.stringMatching(/-(wake|sleep|wake-overdue)$/)]))
    // The warm tier keeps its no-healthy-target alarm instead.
    expect(all).toContainEqual(expect.objectContaining({ MetricName: 'HealthyHostCount', ComparisonOperator: 'LessThanThreshold', Threshold: 1 }))
    expect(onlyResource(warm.tierTemplate, 'AWS::ApplicationAutoScaling::ScalableTarget').properties.MinCapacity).toBe(warm.config.minTasks)
  })
})
