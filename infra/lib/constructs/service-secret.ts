import { RemovalPolicy, Validations } from 'aws-cdk-lib'
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import { Construct } from 'constructs'

/**
 * GPU_SERVICE_SECRET: the HMAC key the edge signs `/internal/*` requests with and the GPU service
 * checks them with (gpu-service/README.md, "How the tiers talk"). Generated here as 64 hex characters (256 bits; the
 * service needs ≥ 32 characters); the deploy reads it once and sets it as the worker's secret.
 */
export class ServiceSecret extends Construct {
  readonly secret: secretsmanager.Secret

  constructor(scope: Construct, id: string, { description }: { description: string }) {
    super(scope, id)
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description,
      generateSecretString: {
        passwordLength: 64,
        // What is left after these exclusions is exactly 0-9 a-f.
        excludeUppercase: true,
        excludePunctuation: true,
        includeSpace: false,
        excludeCharacters: 'ghijklmnopqrstuvwxyz',
        requireEachIncludedType: false,
      },
      // The edge holds a copy: replacing the secret by accident would break every signed request.
      removalPolicy: RemovalPolicy.RETAIN,
    })
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The secret is shared with the Cloudflare Worker (a wrangler secret), which Secrets Manager rotation cannot update; rotating it alone would break every edge → GPU request. Rotate by hand: new value, wrangler secret put, force a new ECS deployment.',
    })
  }
}
