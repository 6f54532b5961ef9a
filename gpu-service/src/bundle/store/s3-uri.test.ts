import { describe, expect, it } from 'vitest'
import { formatS3Uri, parseS3Uri } from './s3-uri.ts'

describe('parseS3Uri', () => {
  it('splits bucket and prefix, adding a missing trailing slash', () => {
    expect(parseS3Uri('s3://my-models/sd-turbo/v3/')).toEqual({ bucket: 'my-models', prefix: 'sd-turbo/v3/' })
    expect(parseS3Uri('s3://my-models/sd-turbo/v3')).toEqual({ bucket: 'my-models', prefix: 'sd-turbo/v3/' })
    expect(parseS3Uri(' s3://my.models/ ')).toEqual({ bucket: 'my.models', prefix: '' })
    expect(parseS3Uri('s3://my-models')).toEqual({ bucket: 'my-models', prefix: '' })
    expect(formatS3Uri(parseS3Uri('s3://my-models/sd-turbo/v3'))).toBe('s3://my-models/sd-turbo/v3/')
  })

  it.each([
    ['https://my-models.s3.amazonaws.com/sd-turbo/', '(got "https://my-models.s3.amazonaws.com/sd-turbo/")'],
    ['s3:/my-models/x/', '(got "s3:/my-models/x/")'],
    ['', '(got "")'],
    ['s3://My_Models/x/', '"My_Models" is not a valid bucket name'],
    ['s3://ab/x/', '"ab" is not a valid bucket name'],
    ['s3://my-models/a//b/', 'the prefix "a//b/" has an empty, "." or ".." segment'],
    ['s3://my-models/a/../b/', 'the prefix "a/../b/" has an empty, "." or ".." segment'],
    ['s3://my-models//', 'the prefix "/" has an empty, "." or ".." segment'],
  ])('refuses %j', (uri, problem) => {
    expect(() => parseS3Uri(uri)).toThrow(`model store: MODEL_S3_URI must look like s3://bucket/prefix/${problem.startsWith('(') ? ' ' : ': '}${problem}`)
  })
})
