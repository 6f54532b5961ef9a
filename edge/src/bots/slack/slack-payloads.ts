import { textCommand, type BotCommand, type BotEvent } from '../bot-command.ts'
import { parseButtonId } from '../button-ids.ts'
import { parseImagineText } from '../imagine-command.ts'
import { NEGATIVE_ACTION_ID, NEGATIVE_BLOCK_ID, WITHOUT_CALLBACK_ID } from './slack-messages.ts'

/** Whether `url` is a `response_url` Slack issued: under `SLACK_RESPONSE_URL_PREFIX`, compared on its parsed form. */
export function isSlackResponseUrl(url: string | undefined, prefix: string): boolean {
  if (!url) return false
  try {
    return new URL(url).href.startsWith(prefix)
  } catch {
    return false
  }
}

function imagine(text: string): BotCommand {
  if (text.trim() === '' || text.trim().toLowerCase() === 'help') return { kind: 'help' }
  const parsed = parseImagineText(text)
  return parsed.ok ? { kind: 'imagine', request: parsed.value } : { kind: 'invalid', message: parsed.message }
}

/** A slash command's form body (`application/x-www-form-urlencoded`) as a bot event. Null without a team, user or trigger. */
export function slashCommandEvent(form: URLSearchParams, nowMs: number): BotEvent | null {
  const team = form.get('team_id') ?? form.get('enterprise_id')
  const user = form.get('user_id')
  const trigger = form.get('trigger_id')
  if (!team || !user || !trigger) return null
  const name = (form.get('command') ?? '').replace(/^\//, '')
  const text = form.get('text') ?? ''
  const command = textCommand(name, text, imagine) ?? { kind: 'help' }
  const responseUrl = form.get('response_url') ?? undefined
  const channelId = form.get('channel_id') ?? undefined
  return {
    platform: 'slack',
    install: team,
    eventId: `trigger:${trigger}`,
    user: { id: `${team}:${user}`, ...(form.get('user_name') ? { name: form.get('user_name') as string } : {}) },
    target: { platform: 'slack', issuedAt: nowMs, teamId: team, userId: user, replaceOriginal: true, usesSpent: 0, ...(responseUrl ? { responseUrl } : {}), ...(channelId ? { channelId } : {}) },
    command,
  }
}

interface InteractionPayload {
  type?: string
  trigger_id?: string
  response_url?: string
  team?: { id?: string } | null
  enterprise?: { id?: string } | null
  user?: { id?: string; username?: string; name?: string; team_id?: string }
  channel?: { id?: string }
  container?: { channel_id?: string }
  actions?: { action_id?: string; value?: string; action_ts?: string }[]
  view?: { id?: string; hash?: string; callback_id?: string; private_metadata?: string; state?: { values?: Record<string, Record<string, { value?: string | null }>> } }
}

/**
 * An interactivity payload (`payload=<JSON>` form body): a button click (`block_actions`) or the
 * "Without…" modal's submission (`view_submission`). Null for anything else (acknowledged, ignored).
 */
export function interactionEvent(form: URLSearchParams, nowMs: number): BotEvent | null {
  let payload: InteractionPayload
  try {
    payload = JSON.parse(form.get('payload') ?? '') as InteractionPayload
  } catch {
    return null
  }
  const team = payload.team?.id ?? payload.user?.team_id ?? payload.enterprise?.id
  const user = payload.user?.id
  if (!team || !user) return null
  const base = {
    platform: 'slack' as const,
    install: team,
    user: { id: `${team}:${user}`, ...(payload.user?.username ? { name: payload.user.username } : {}) },
  }
  if (payload.type === 'block_actions') {
    const action = payload.actions?.[0]
    const button = parseButtonId(action?.value ?? '')
    const eventId = payload.trigger_id ? `trigger:${payload.trigger_id}` : `action:${action?.action_ts ?? ''}:${user}`
    const channelId = payload.channel?.id ?? payload.container?.channel_id
    const command: BotCommand = !button ? { kind: 'invalid', message: 'this button is not one of mine' } : button.action === 'reroll' ? { kind: 'reroll', job: button.job } : { kind: 'ask_without', job: button.job }
    return {
      ...base,
      eventId,
      target: {
        platform: 'slack',
        issuedAt: nowMs,
        teamId: team,
        userId: user,
        replaceOriginal: false,
        // The click's own "Generating…" (or its refusal) is posted to the same URL before the image.
        usesSpent: 1,
        ...(payload.response_url ? { responseUrl: payload.response_url } : {}),
        ...(channelId ? { channelId } : {}),
      },
      command,
    }
  }
  if (payload.type === 'view_submission' && payload.view?.callback_id === WITHOUT_CALLBACK_ID) {
    let meta: { b?: string; c?: string | null } = {}
    try {
      meta = JSON.parse(payload.view.private_metadata ?? '{}') as typeof meta
    } catch {
      meta = {}
    }
    const button = parseButtonId(meta.b ?? '')
    const negative = payload.view.state?.values?.[NEGATIVE_BLOCK_ID]?.[NEGATIVE_ACTION_ID]?.value ?? ''
    const eventId = payload.trigger_id ? `trigger:${payload.trigger_id}` : `view:${payload.view.id ?? ''}:${payload.view.hash ?? ''}`
    return {
      ...base,
      eventId,
      // A modal has no response_url: its answer is posted with the bot token to the channel it came from.
      target: { platform: 'slack', issuedAt: nowMs, teamId: team, userId: user, replaceOriginal: false, usesSpent: 0, ...(meta.c ? { channelId: meta.c } : {}) },
      command:
        !button || button.action !== 'without'
          ? { kind: 'invalid', message: 'this form is not one of mine' }
          : negative.trim() === ''
            ? { kind: 'invalid', message: 'say what to leave out' }
            : { kind: 'without', job: button.job, negative },
    }
  }
  return null
}
