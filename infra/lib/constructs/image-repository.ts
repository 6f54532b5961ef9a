import { Duration, RemovalPolicy } from 'aws-cdk-lib'
import * as ecr from 'aws-cdk-lib/aws-ecr'
import { Construct } from 'constructs'

/** Tagged images kept; older ones are expired (each GPU image is ~10 GB of ECR storage). */
const KEEP_TAGGED_IMAGES = 20

/**
 * The GPU service's image repository. Tags are immutable (a tag is a git SHA and always means the
 * same image, so a task definition never changes under a running service), every push is scanned,
 * and a lifecycle policy bounds storage.
 */
export class ImageRepository extends Construct {
  readonly repository: ecr.Repository

  constructor(scope: Construct, id: string) {
    super(scope, id)
    this.repository = new ecr.Repository(this, 'Repository', {
      imageScanOnPush: true,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      encryption: ecr.RepositoryEncryption.AES_256,
      lifecycleRules: [
        { description: 'untagged layers of failed or superseded pushes', tagStatus: ecr.TagStatus.UNTAGGED, maxImageAge: Duration.days(7), rulePriority: 1 },
        { description: `keep the newest ${KEEP_TAGGED_IMAGES} images (rollback window)`, tagStatus: ecr.TagStatus.ANY, maxImageCount: KEEP_TAGGED_IMAGES, rulePriority: 2 },
      ],
      // The images are the deployable artifact of record; deleting the stack must not delete them.
      removalPolicy: RemovalPolicy.RETAIN,
    })
  }
}
