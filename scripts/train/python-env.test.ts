import { describe, expect, it } from 'vitest'
import { TRAINING_PYTHON, ensureTrainingPython, trainingPythonVersion } from './python-env.ts'

describe('the training Python', () => {
  it('is found with PyTorch (installing it first when missing)', () => {
    expect(ensureTrainingPython(() => {})).toBe(TRAINING_PYTHON)
    expect(trainingPythonVersion()).toMatch(/^\d+\.\d+/)
  }, 120_000) // imports PyTorch (seconds; measured over 5 s on a loaded two-core machine)

  it('is not claimed for a missing interpreter or one that is not Python', () => {
    expect(trainingPythonVersion('/nonexistent/python3')).toBeUndefined()
    expect(trainingPythonVersion(process.execPath)).toBeUndefined()
  })
})
