import * as iam from 'aws-cdk-lib/aws-iam'
import * as kms from 'aws-cdk-lib/aws-kms'
import * as sns from 'aws-cdk-lib/aws-sns'
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions'
import { Construct } from 'constructs'

/**
 * Where the GPU tier's alarms go: an SNS topic encrypted with its own key (CloudWatch cannot publish
 * to a topic under the AWS-managed SNS key, because that key's policy cannot grant it), TLS-only
 * publishing, and an optional email subscription.
 */
export class AlarmTopic extends Construct {
  readonly topic: sns.Topic

  constructor(scope: Construct, id: string, { displayName, email }: { displayName: string; email: string | undefined }) {
    super(scope, id)
    const key = new kms.Key(this, 'Key', { enableKeyRotation: true, description: `${displayName}: SNS encryption` })
    key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*')
    this.topic = new sns.Topic(this, 'Topic', { displayName, masterKey: key, enforceSSL: true })
    if (email) this.topic.addSubscription(new subscriptions.EmailSubscription(email))
  }
}
