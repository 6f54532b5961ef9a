import { describe, expect, it } from 'vitest'
import { fromHalfBits } from '../onnx/float16.ts'
import { findTensor, floatFeed, idsFeed, readFloats, timestepFeed } from './tensor-io.ts'

const info = (type: string, shape: (number | string)[] = []) => ({ name: 'x', type, shape })

describe('tensor feeds follow the session metadata', () => {
  it('converts floats to float16 bit patterns and back', () => {
    const t = floatFeed(info('float16'), new Float32Array([1, -2, 0.5]), [3])
    expect(t.type).toBe('float16')
    expect(Array.from(t.data as Uint16Array, fromHalfBits)).toEqual([1, -2, 0.5])
    expect(Array.from(readFloats(t))).toEqual([1, -2, 0.5])
  })

  it('widens ids to int64 when the text encoder wants it', () => {
    const t = idsFeed(info('int64'), new Int32Array([49406, 320, 49407]), [1, 3])
    expect(t.type).toBe('int64')
    expect(Array.from(t.data as BigInt64Array)).toEqual([49406n, 320n, 49407n])
    expect(idsFeed(info('int32'), new Int32Array([1]), [1, 1]).type).toBe('int32')
  })

  it.each([
    [[], 'float32', []],
    [[1], 'int64', [1]],
    [['batch'], 'float32', [3]],
    [['steps'], 'float16', [3]],
  ] as const)('shapes a timestep declared %j as %s', (shape, type, dims) => {
    const t = timestepFeed(info(type, [...shape]), 999, 3)
    expect(t.dims).toEqual(dims)
    expect(t.type).toBe(type)
    expect(Number(readAny(t.data)[0])).toBe(999)
  })

  it('rejects types it cannot feed', () => {
    expect(() => floatFeed(info('int8'), new Float32Array(1), [1])).toThrow(/input x has type int8; expected float32 or float16/)
    expect(() => timestepFeed(info('string'), 1, 1)).toThrow(/timestep/)
    expect(() => findTensor([info('float32')], 'sample', 'unet')).toThrow('unet has no tensor "sample" (it has: x)')
  })
})

function readAny(data: unknown): number[] {
  const values = Array.from(data as ArrayLike<number | bigint>, Number)
  return data instanceof Uint16Array ? values.map(fromHalfBits) : values
}
