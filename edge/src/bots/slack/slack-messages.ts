import { clip, imageCaption, type ImageAnswer } from '../bot-answer.ts'
import { BUTTON_LABELS, buttonId } from '../button-ids.ts'

/** The "Without…" modal's ids: its callback and its one input. */
export const WITHOUT_CALLBACK_ID = 'snoopi_without'
export const NEGATIVE_BLOCK_ID = 'negative'
export const NEGATIVE_ACTION_ID = 'negative'
/** The action ids of the two buttons (their `value` is the button id: the job reference). */
export const REROLL_ACTION_ID = 'snoopi_reroll'
export const WITHOUT_ACTION_ID = 'snoopi_without'

const plain = (text: string, max = 3000) => ({ type: 'plain_text' as const, text: clip(text, max), emoji: true })

/** A message only the user sees: the answer to a slash command or a click. */
export function ephemeral(text: string) {
  return { response_type: 'ephemeral' as const, text: clip(text, 3000) }
}

/** The image, with the prompt and the two buttons (`actions` block of `button` elements). */
export function imageBlocks(answer: ImageAnswer) {
  const caption = imageCaption(answer)
  return [
    { type: 'image', image_url: answer.imageUrl, alt_text: clip(answer.request.prompt, 2000), title: plain(answer.request.prompt, 2000) },
    { type: 'context', elements: [{ type: 'mrkdwn', text: clip(`<@${answer.userId}> · ${caption.split('\n').slice(1).join(' · ')}`, 3000) }] },
    {
      type: 'actions',
      block_id: 'snoopi_buttons',
      elements: [
        { type: 'button', action_id: REROLL_ACTION_ID, text: plain(BUTTON_LABELS.reroll), value: buttonId('reroll', answer.job) },
        { type: 'button', action_id: WITHOUT_ACTION_ID, text: plain(BUTTON_LABELS.without), value: buttonId('without', answer.job) },
      ],
    },
  ]
}

/**
 * The image through `response_url`, in the channel: replacing the ephemeral "Generating…" of a
 * slash command, or as a new message after a click (the clicked image stays).
 */
export function imageResponse(answer: ImageAnswer, replaceOriginal = true) {
  return { response_type: 'in_channel' as const, replace_original: replaceOriginal, text: clip(imageCaption(answer), 3000), blocks: imageBlocks(answer) }
}

/** The image through `chat.postMessage` (the fallback once `response_url` is spent). */
export function imagePost(answer: ImageAnswer, channel: string) {
  return { channel, text: clip(imageCaption(answer), 3000), blocks: imageBlocks(answer), unfurl_links: false, unfurl_media: false }
}

/** A text answer through `response_url` (a job that failed; a click's "Generating…" or refusal). */
export function textResponse(text: string, replaceOriginal = true) {
  return { response_type: 'ephemeral' as const, replace_original: replaceOriginal, text: clip(text, 3000) }
}

/** The "Without…" modal; `private_metadata` carries the job reference and the channel the answer goes to. */
export function withoutView(job: string, prompt: string, channelId: string | undefined) {
  return {
    type: 'modal',
    callback_id: WITHOUT_CALLBACK_ID,
    private_metadata: JSON.stringify({ b: buttonId('without', job), c: channelId ?? null }),
    title: plain('Without…', 24),
    submit: plain('Draw it', 24),
    close: plain('Cancel', 24),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: clip(`*${prompt}*`, 3000) } },
      {
        type: 'input',
        block_id: NEGATIVE_BLOCK_ID,
        label: plain('What to leave out', 2000),
        element: { type: 'plain_text_input', action_id: NEGATIVE_ACTION_ID, max_length: 500, placeholder: plain('e.g. snow, trees, text', 150) },
      },
    ],
  }
}
