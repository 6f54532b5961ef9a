/**
 * The ids of the buttons under a delivered image (Discord `custom_id` ≤ 100 characters, Slack
 * `value`, Telegram `callback_data` ≤ 64 bytes). They carry only the action and a job reference —
 * never a prompt, a user or a token — so they never expire: a click is looked up by its job, whose
 * request the install keeps.
 *
 * | action | id |
 * | --- | --- |
 * | Re-roll (same request, next seed) | `r:<job id>` |
 * | Without… (ask for a negative prompt) | `w:<job id>` |
 */
export type ButtonAction = 'reroll' | 'without'

/** The longest id the tightest platform takes (Telegram's `callback_data`, bytes). */
export const MAX_BUTTON_ID_BYTES = 64

const CODES: Record<ButtonAction, string> = { reroll: 'r', without: 'w' }
const ACTIONS: Record<string, ButtonAction> = { r: 'reroll', w: 'without' }
const JOB_REF = /^[A-Za-z0-9_-]{1,60}$/

export const BUTTON_LABELS: Record<ButtonAction, string> = { reroll: 'Re-roll', without: 'Without…' }

export function buttonId(action: ButtonAction, job: string): string {
  if (!JOB_REF.test(job)) throw new Error(`buttonId: not a job reference: ${job}`)
  return `${CODES[action]}:${job}`
}

/** The action and job of a button id; null for anything else (a forged or foreign id). */
export function parseButtonId(id: string): { action: ButtonAction; job: string } | null {
  const colon = id.indexOf(':')
  if (colon < 0) return null
  const action = ACTIONS[id.slice(0, colon)]
  const job = id.slice(colon + 1)
  return action && JOB_REF.test(job) ? { action, job } : null
}
