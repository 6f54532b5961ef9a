import { describe, expect, it } from 'vitest'
import { createProgress } from './progress.ts'

describe('createProgress', () => {
  it('logs each finished file, and the running total at most once a second in between', () => {
    let time = 0
    const lines: string[] = []
    const progress = createProgress(10e6, 2, (line) => lines.push(line), { now: () => time })
    for (let i = 0; i < 4; i++) {
      time += 400
      progress.addBytes(1e6)
    }
    expect(lines).toEqual(['  3.0 MB / 10.0 MB (30%), 2.5 MB/s'])
    progress.fileDone('text_encoder/model.onnx', 4e6)
    time += 900
    progress.addBytes(1e6)
    expect(lines.slice(1)).toEqual(['  text_encoder/model.onnx: 4.0 MB (1/2 files, 4.0 MB / 10.0 MB)'])
    time += 100
    progress.addBytes(1e6)
    expect(lines.slice(2)).toEqual(['  6.0 MB / 10.0 MB (60%), 2.3 MB/s'])
    expect(progress.done()).toEqual({ bytes: 6e6, seconds: 2.6 })
  })
})
