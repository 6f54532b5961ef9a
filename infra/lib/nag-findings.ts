import { Stack } from 'aws-cdk-lib'
import type { IConstruct } from 'constructs'

/**
 * The finding id cdk-nag gives a wildcard resource in an IAM policy (`AwsSolutions-IAM5[Resource::…]`),
 * so one exact finding can be acknowledged instead of the whole rule. cdk-nag flattens the resolved
 * CloudFormation value: Fn::Join is joined, Ref and Fn::GetAtt become `<Name>` / `<Name.Attr>`,
 * Fn::ImportValue becomes the export name (cdk-nag/lib/utils/flatten-cfn-reference.js). A mismatch
 * is not silent: synthesis fails on the unacknowledged finding, and the infra tests with it.
 */
export function wildcardResourceFinding(scope: IConstruct, resource: string): string {
  return `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(resource))}]`
}

function flatten(node: unknown): string {
  if (node === undefined) return ''
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>')
  if (typeof node === 'object' && node !== null) {
    const fn = node as Record<string, unknown>
    if (Array.isArray(fn['Fn::Join'])) {
      const [delimiter, items] = fn['Fn::Join'] as [string, unknown[]]
      return items.map(flatten).join(delimiter)
    }
    if (fn['Fn::Sub'] !== undefined) return flatten(fn['Fn::Sub'])
    if (Array.isArray(fn['Fn::GetAtt'])) {
      const [resource, attribute] = fn['Fn::GetAtt'] as [unknown, unknown]
      return `<${flatten(resource)}.${flatten(attribute)}>`
    }
    if (fn['Fn::ImportValue'] !== undefined) return flatten(fn['Fn::ImportValue'])
    if (fn.Ref !== undefined) return `<${flatten(fn.Ref)}>`
  }
  return JSON.stringify(node)
}
