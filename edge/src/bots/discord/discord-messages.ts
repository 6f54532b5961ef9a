import { clip, imageCaption, type ImageAnswer } from '../bot-answer.ts'
import { BUTTON_LABELS, buttonId } from '../button-ids.ts'

/** Interaction types Discord sends (the ones this bot handles). */
export const InteractionType = { PING: 1, APPLICATION_COMMAND: 2, MESSAGE_COMPONENT: 3, MODAL_SUBMIT: 5 } as const
/** Interaction response types. */
export const ResponseType = { PONG: 1, CHANNEL_MESSAGE: 4, DEFERRED_CHANNEL_MESSAGE: 5, MODAL: 9 } as const

const EPHEMERAL = 64
/** Component types. */
const ACTION_ROW = 1
const BUTTON = 2
const TEXT_INPUT = 4
const SECONDARY = 2
/** A modal's text input: the one field of "Without…". */
export const NEGATIVE_INPUT_ID = 'negative'
const NEGATIVE_MAX = 500

export const pong = { type: ResponseType.PONG }

/** The deferred answer ("<bot> is thinking…"): the image replaces it later, as the token's `@original`. */
export const deferred = { type: ResponseType.DEFERRED_CHANNEL_MESSAGE }

/** A message only the user sees (refusals, /quota, /link). */
export function ephemeral(text: string) {
  return { type: ResponseType.CHANNEL_MESSAGE, data: { content: clip(text, 2000), flags: EPHEMERAL, allowed_mentions: { parse: [] } } }
}

/** "Without…": a modal asking what to leave out; its custom id is the button's (the job reference). */
export function withoutModal(job: string, prompt: string) {
  return {
    type: ResponseType.MODAL,
    data: {
      custom_id: buttonId('without', job),
      title: 'Without…',
      components: [
        {
          type: ACTION_ROW,
          components: [
            {
              type: TEXT_INPUT,
              custom_id: NEGATIVE_INPUT_ID,
              style: 1,
              label: clip(`Leave out of: ${prompt}`, 45),
              placeholder: 'e.g. snow, trees, text',
              min_length: 1,
              max_length: NEGATIVE_MAX,
              required: true,
            },
          ],
        },
      ],
    },
  }
}

function buttons(job: string) {
  return [
    {
      type: ACTION_ROW,
      components: [
        { type: BUTTON, style: SECONDARY, label: BUTTON_LABELS.reroll, custom_id: buttonId('reroll', job) },
        { type: BUTTON, style: SECONDARY, label: BUTTON_LABELS.without, custom_id: buttonId('without', job) },
      ],
    },
  ]
}

/** The finished image: an embed with the PNG's URL, the prompt and seed, and the two buttons. No pings. */
export function imageMessage(answer: ImageAnswer) {
  return {
    content: `<@${answer.userId}>`,
    embeds: [{ description: clip(imageCaption(answer), 4096), image: { url: answer.imageUrl } }],
    components: buttons(answer.job),
    allowed_mentions: { parse: [] },
  }
}

/** A plain text follow-up (a job that failed), editing the deferred answer. */
export function textMessage(text: string) {
  return { content: clip(text, 2000), embeds: [], components: [], allowed_mentions: { parse: [] } }
}

/** The same content as an interaction answer (a cache hit answered at once, type 4). */
export function immediate(message: ReturnType<typeof imageMessage>) {
  return { type: ResponseType.CHANNEL_MESSAGE, data: message }
}
