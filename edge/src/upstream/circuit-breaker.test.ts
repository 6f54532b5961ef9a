import { describe, expect, it } from 'vitest'
import { CircuitBreaker } from './circuit-breaker.ts'

describe('CircuitBreaker', () => {
  it('opens after the threshold, fails fast while open, lets one probe through, and closes on success', () => {
    let now = 0
    const breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 1000, now: () => now })
    for (let i = 0; i < 2; i++) breaker.failed()
    expect(breaker.blockedForMs()).toBe(0)
    breaker.failed()
    expect(breaker.state).toBe('open')
    expect(breaker.blockedForMs()).toBe(1000)
    now = 600
    expect(breaker.blockedForMs()).toBe(400)
    now = 1000
    expect(breaker.blockedForMs()).toBe(0) // the probe
    expect(breaker.blockedForMs()).toBeGreaterThan(0) // only one probe at a time
    breaker.succeeded()
    expect(breaker.state).toBe('closed')
    expect(breaker.blockedForMs()).toBe(0)
  })

  it('re-opens when the probe fails', () => {
    let now = 0
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 100, now: () => now })
    breaker.failed()
    now = 100
    expect(breaker.blockedForMs()).toBe(0)
    breaker.failed()
    expect(breaker.state).toBe('open')
    expect(breaker.blockedForMs()).toBe(100)
  })
})
