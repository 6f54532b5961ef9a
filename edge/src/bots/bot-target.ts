import type { ImagineRequest } from './imagine-command.ts'
import type { StoredIntake } from './bot-install.ts'
import type { Platform } from './bot-settings.ts'

/**
 * Where a bot job's answer goes, as the platform told us when the command arrived. Kept with the
 * job (in its install's Durable Object) until it is delivered; never in a button id.
 */
export type DeliveryTarget =
  | {
      platform: 'discord'
      applicationId: string
      /** The interaction token: its `@original` message is the job's answer for 15 minutes. */
      token: string
      /** When the interaction arrived (epoch ms): the token is gone 15 minutes later. */
      issuedAt: number
      channelId?: string
      guildId?: string
    }
  | {
      platform: 'slack'
      /** 30 minutes and 5 uses; absent for a modal's submission (the answer is then posted with the bot token). */
      responseUrl?: string
      issuedAt: number
      channelId?: string
      teamId: string
      userId: string
      /** A slash command's answer replaces its ephemeral "Generating…"; a click's is a new message (the clicked image stays). */
      replaceOriginal: boolean
      /** Posts already made to `responseUrl` before delivery (a click's "Generating…"). */
      usesSpent: number
    }
  | {
      platform: 'telegram'
      chatId: number | string
      /** The command's message, which the photo replies to. */
      replyTo?: number
    }

/** Who asked, as the platform names them (Discord user id; Slack `team:user`; Telegram user id). */
export interface BotUser {
  id: string
  name?: string
}

/** An install's record of a job it created: enough to deliver it and to answer its buttons. */
export interface BotJobRecord {
  id: string
  platform: Platform
  install: string
  user: string
  request: ImagineRequest
  /** Epoch ms. */
  created: number
  target: DeliveryTarget
  /** Whose key pays: the install's (`install`) or the user's linked key (`link`). */
  via: 'install' | 'link'
  /** The install's concurrency slot an unlinked user's job holds until it is delivered. */
  slot?: string
  /** A notice instead of a job's image: these words go out (a generation the key refused, say). */
  notice?: string
}

/** A linked platform user: the key's account (its Durable Object id) and public id. */
export interface BotLink {
  account: string
  keyId: string
  /** Unix seconds. */
  linkedAt: number
}

/** A platform answer as it was sent, replayed to a duplicate of the same event. */
export interface StoredAnswer {
  status: number
  contentType: string
  body: string
}

/**
 * A message of the bot delivery queue, naming the install that keeps the record (`<platform>:<install
 * id>`) and either a job (or notice) to deliver, or an intake to start (the install's watchdog asks
 * for that when an answered generation never became a job).
 */
export type BotDeliveryMessage = { install: string; job: string; intake?: undefined } | { install: string; intake: StoredIntake; job?: undefined }
