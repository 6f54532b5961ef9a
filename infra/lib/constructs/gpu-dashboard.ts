import { Duration } from 'aws-cdk-lib'
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch'
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2'
import type * as ecs from 'aws-cdk-lib/aws-ecs'
import { Construct } from 'constructs'
import type { GpuTierConfig } from '../environments.ts'
import { serviceMetric } from '../service-metrics.ts'

export interface GpuDashboardProps {
  config: GpuTierConfig
  loadBalancer: elbv2.ApplicationLoadBalancer
  targetGroup: elbv2.ApplicationTargetGroup
  service: ecs.Ec2Service
  alarms: cloudwatch.IAlarm[]
}

/**
 * One page for the GPU tier: the autoscaling signal next to its target, the queue and its
 * overflow, throughput, the ALB's view (requests, errors, latency, target health), the tasks'
 * CPU and memory, and the alarms.
 */
export class GpuDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard

  constructor(scope: Construct, id: string, { config, loadBalancer, targetGroup, service, alarms }: GpuDashboardProps) {
    super(scope, id)
    const minute = Duration.minutes(1)
    const tg = targetGroup.metrics
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `snoopi-gpu-${config.name}`,
      defaultInterval: Duration.hours(3),
    })
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'In-flight requests per task (autoscaling signal)',
        left: [serviceMetric(config.name, 'InFlightRequests', { label: 'average per task' }), serviceMetric(config.name, 'InFlightRequests', { statistic: cloudwatch.Stats.MAXIMUM, label: 'busiest task' })],
        leftAnnotations: [{ value: config.targetInFlightPerTask, label: 'target', color: cloudwatch.Color.GREEN }],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Queue',
        left: [serviceMetric(config.name, 'QueueDepthImages', { statistic: cloudwatch.Stats.MAXIMUM, label: 'queued images (max task)' })],
        leftAnnotations: [{ value: config.service.maxQueueImages, label: 'MAX_QUEUE_IMAGES', color: cloudwatch.Color.RED }],
        right: [serviceMetric(config.name, 'QueueFullErrors', { label: 'turned away (503)' })],
        width: 12,
      }),
    )
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Throughput',
        left: [serviceMetric(config.name, 'ImagesGenerated', { label: 'images / min' }), tg.requestCount({ period: minute, label: 'requests / min' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Errors',
        left: [
          tg.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: minute, label: 'target 5xx' }),
          tg.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_4XX_COUNT, { period: minute, label: 'target 4xx' }),
          loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: minute, label: 'ALB 5xx (no target / timeout)' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Target response time (s)',
        left: (['p50', 'p90', 'p99'] as const).map((p) => tg.targetResponseTime({ statistic: p, period: minute, label: p })),
        leftAnnotations: [{ value: config.alarms.p99ResponseTimeS, label: 'p99 alarm', color: cloudwatch.Color.RED }],
        width: 8,
      }),
    )
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Targets',
        left: [tg.healthyHostCount({ period: minute, label: 'healthy' }), tg.unhealthyHostCount({ period: minute, label: 'unhealthy (includes loading)' })],
        leftAnnotations: [{ value: config.minTasks, label: 'minTasks' }, { value: config.maxTasks, label: 'maxTasks' }],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Tasks: CPU and memory %',
        left: [service.metricCpuUtilization({ period: minute, label: 'CPU' }), service.metricMemoryUtilization({ period: minute, label: 'memory' })],
        width: 8,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 8 }),
    )
  }
}
