/**
 * What the OpenAI engine learns from a server before it scores, so scores are right for any
 * served model, not only Zephyr (vLLM scores token ids exactly as sent, so a wrong template or
 * BOS would give wrong numbers silently):
 *  - BOS: the token `/tokenize` adds with `add_special_tokens` (a tokenizer that adds none gets EOS,
 *    as the authors' scorer does);
 *  - the chat template: vLLM's `/tokenizer_info` where the server offers it, else the configured
 *    one (Zephyr's by default), checked either way: the probe chat rendered by the template and
 *    tokenized must equal the server's own `/tokenize` with `messages`, with and without the
 *    generation prompt;
 *  - EOS: the template's end-of-turn token string, tokenized by the server (one token);
 *  - prefix caching, which has been reported to make vLLM's prompt log-probs depend on request
 *    order: from `/metrics` (`vllm:cache_config_info`), else the version's default (on since 0.8).
 * A configured BOS/EOS that differs from the server's is refused naming both, and so is a template
 * that renders differently; a server that cannot tell is trusted only with an explicit setting.
 */
import { APIError, type OpenAI } from 'openai';
import { z } from 'zod';
import type { ChatMessage } from '../core/chat.ts';
import { templateFromInfo, zephyrTemplate } from '../core/chatTemplate.ts';
import type { ChatTemplateInfo } from '../core/engine.ts';
import { AppError } from '../core/errors.ts';

/** What the engine was told; anything absent is learned. */
export interface ConfiguredFacts {
  chatTemplate?: ChatTemplateInfo | undefined;
  bosTokenId?: number | undefined;
  eosTokenId?: number | undefined;
}

export interface ServerFacts {
  chatTemplate: ChatTemplateInfo;
  bosTokenId: number;
  eosTokenId: number;
  /** Why scoring must be refused (the template could not be checked and was not configured). */
  scoringRefusal?: string;
  /** Things the user should know (prefix caching on, a template trusted unchecked). */
  warnings: string[];
}

/** How the engine reaches the server: the SDK client, the server root (/tokenize lives there) and its error mapping. */
export interface ServerAccess {
  client: OpenAI;
  root: string;
  model: string;
  toAppError(error: unknown, what: string): AppError;
}

const ZEPHYR_EOS = '</s>';
/** Zephyr's facts, used when nothing can be learned (no /tokenize, or no probing). */
export const ZEPHYR_FACTS = { chatTemplate: { name: zephyrTemplate.name }, bosTokenId: 1, eosTokenId: 2 } as const;

/** A chat that exercises every part a scoring input uses: a user turn, an answer, the end of turn. */
const PROBE_CHAT: ChatMessage[] = [
  { role: 'user', content: 'Is the sea salty?' },
  { role: 'assistant', content: 'Yes, mostly.' },
];

const Tokenized = z.object({ tokens: z.array(z.number().int().nonnegative()), token_strs: z.array(z.string()).nullish() });
/** A special token as tokenizer configs write it: the string, or an AddedToken object. */
export const SpecialToken = z.union([z.string(), z.object({ content: z.string() }).transform((token) => token.content)]);
/** vLLM's TokenizerInfoResponse (the tokenizer config; extra fields allowed). */
const TokenizerInfo = z.object({ chat_template: z.string().optional(), bos_token: SpecialToken.nullish(), eos_token: SpecialToken.nullish() });
const Version = z.object({ version: z.string() });
const Detokenized = z.object({ prompt: z.string() });

/** vLLM V1 (0.8) made prefix caching the default. */
const PREFIX_CACHING_DEFAULT_SINCE: readonly [number, number] = [0, 8];

/** A server answer that says the request itself is not understood (an older or other server). */
function isRefused(error: unknown): boolean {
  return error instanceof APIError && typeof error.status === 'number' && error.status >= 400 && error.status < 500 && error.status !== 401 && error.status !== 403 && error.status !== 429;
}

/** Learns what it can; undefined when the server has no vLLM-style /tokenize. */
export async function learnServerFacts(access: ServerAccess, configured: ConfiguredFacts): Promise<ServerFacts | undefined> {
  const tokenize = async (body: Record<string, unknown>): Promise<number[]> => {
    const url = `${access.root}/tokenize`;
    try {
      return Tokenized.parse(await access.client.post(url, { body: { model: access.model, ...body } })).tokens;
    } catch (error) {
      throw access.toAppError(error, `POST ${url}`);
    }
  };
  let withSpecial: z.infer<typeof Tokenized>;
  try {
    withSpecial = Tokenized.parse(await access.client.post(`${access.root}/tokenize`, { body: { model: access.model, prompt: 'Hi', add_special_tokens: true, return_token_strs: true } }));
  } catch (error) {
    // No /tokenize of vLLM's kind (a hosted API, another server): nothing to learn; scoring is refused later, saying so.
    if (isRefused(error) || error instanceof z.ZodError) return undefined;
    throw access.toAppError(error, `POST ${access.root}/tokenize`);
  }
  const plain = await tokenize({ prompt: 'Hi', add_special_tokens: false });
  const warnings: string[] = [];

  // The tokenizer's BOS is what it puts before the text.
  const added = withSpecial.tokens.length === plain.length + 1 && withSpecial.tokens.slice(1).every((id, i) => id === plain[i]);
  const serverBos = added ? withSpecial.tokens[0] : undefined;
  const serverBosText = added ? (withSpecial.token_strs?.[0] ?? undefined) : undefined;

  const served = configured.chatTemplate ? undefined : await tokenizerInfo(access);
  const given: ChatTemplateInfo = configured.chatTemplate ?? served ?? ZEPHYR_FACTS.chatTemplate;
  // A bare Jinja template renders `bos_token` as the server's BOS.
  const chatTemplate: ChatTemplateInfo = given.source !== undefined && given.bosToken === undefined && serverBosText !== undefined ? { ...given, bosToken: serverBosText } : given;

  const eosText = chatTemplate.eosToken ?? (chatTemplate.name === zephyrTemplate.name ? ZEPHYR_EOS : undefined);
  const eosIds = eosText === undefined ? [] : await tokenize({ prompt: eosText, add_special_tokens: false });
  const serverEos = eosIds.length === 1 ? eosIds[0] : undefined;
  const settledEos = settle('EOS', configured.eosTokenId, serverEos, eosText, access.model);
  const refusals: string[] = [];
  if (settledEos === undefined) {
    refusals.push(`the EOS token of ${access.model} is unknown: the chat template names ${eosText === undefined ? 'none' : `"${eosText}", which the server splits into ${eosIds.length} tokens`}; set it (--eos-token-id)`);
  }
  // Generation does not need it; scoring is refused until it is set.
  const eosTokenId = settledEos ?? ZEPHYR_FACTS.eosTokenId;
  // A tokenizer without a BOS gets EOS, as the authors' scorer does.
  const bosTokenId = settle('BOS', configured.bosTokenId, serverBos, serverBosText, access.model) ?? eosTokenId;

  const check = await checkTemplate(access, chatTemplate, tokenize);
  if (check === 'unknown') {
    if (configured.chatTemplate || served) warnings.push(`${access.model}: the server cannot tokenize chat messages, so the chat template "${chatTemplate.name}" was not checked against the served one.`);
    else refusals.push(`${access.root} cannot tokenize chat messages, so which chat template ${access.model} uses cannot be checked: set it (--chat-template <the model's tokenizer_config.json or a Jinja file>, or zephyr)`);
  }
  warnings.push(...(await prefixCachingWarnings(access)));
  const scoringRefusal = refusals.length > 0 ? `Cannot score: ${refusals.join('; ')}.` : undefined;
  return { chatTemplate, bosTokenId, eosTokenId, ...(scoringRefusal ? { scoringRefusal } : {}), warnings };
}

/** The configured id when it agrees with the server's, the server's when none is configured. */
function settle(what: string, configured: number | undefined, server: number | undefined, text: string | undefined, model: string): number | undefined {
  if (configured !== undefined && server !== undefined && configured !== server) {
    throw new AppError('model-mismatch', `The server's ${what} for ${model} is token ${server}${text ? ` ("${text}")` : ''}, but ${configured} is configured: drop the ${what} setting or correct it, or point at the server of the model you mean.`);
  }
  return configured ?? server;
}

/** The template from vLLM's /tokenizer_info (off unless vLLM runs with --enable-tokenizer-info-endpoint; `serve` has it). */
async function tokenizerInfo(access: ServerAccess): Promise<ChatTemplateInfo | undefined> {
  let raw: unknown;
  try {
    raw = await access.client.get(`${access.root}/tokenizer_info`);
  } catch (error) {
    if (isRefused(error)) return undefined;
    throw access.toAppError(error, `GET ${access.root}/tokenizer_info`);
  }
  const info = TokenizerInfo.safeParse(raw);
  if (!info.success || info.data.chat_template === undefined) return undefined;
  const { chat_template: source, bos_token: bosToken, eos_token: eosToken } = info.data;
  return { name: `${access.model} (from /tokenizer_info)`, source, ...(bosToken ? { bosToken } : {}), ...(eosToken ? { eosToken } : {}) };
}

/**
 * 'same' when the template, rendered here and tokenized by the server, gives the ids the server's
 * own chat tokenization gives (with and without the generation prompt); 'unknown' when the server
 * does not tokenize messages. A difference is refused, showing both renderings.
 */
async function checkTemplate(access: ServerAccess, info: ChatTemplateInfo, tokenize: (body: Record<string, unknown>) => Promise<number[]>): Promise<'same' | 'unknown'> {
  const template = templateFromInfo(info);
  for (const [messages, addGenerationPrompt] of [[PROBE_CHAT, false], [PROBE_CHAT.slice(0, 1), true]] as const) {
    let served: number[];
    try {
      served = Tokenized.parse(await access.client.post(`${access.root}/tokenize`, { body: { model: access.model, messages, add_generation_prompt: addGenerationPrompt, add_special_tokens: false } })).tokens;
    } catch (error) {
      if (isRefused(error) || error instanceof z.ZodError) return 'unknown';
      throw access.toAppError(error, `POST ${access.root}/tokenize`);
    }
    const rendered = template.render(messages, { addGenerationPrompt });
    const ours = await tokenize({ prompt: rendered, add_special_tokens: false });
    if (ours.length !== served.length || ours.some((id, i) => id !== served[i])) {
      const servedText = await detokenize(access, served);
      throw new AppError(
        'model-mismatch',
        `The chat template "${info.name}" does not match the one ${access.model} is served with: it renders ${excerpt(rendered, servedText)} where the server renders ${excerpt(servedText, rendered)}. Set the served model's template (--chat-template <its tokenizer_config.json or Jinja file>).`,
      );
    }
  }
  return 'same';
}

/** The server's text for ids (vLLM's /detokenize), or the ids themselves when it has none. */
async function detokenize(access: ServerAccess, ids: number[]): Promise<string> {
  try {
    return Detokenized.parse(await access.client.post(`${access.root}/detokenize`, { body: { model: access.model, tokens: ids } })).prompt;
  } catch {
    return `token ids [${ids.join(', ')}]`;
  }
}

/** `text` quoted, from a little before where it first differs from `other`. */
function excerpt(text: string, other: string): string {
  let first = 0;
  while (first < text.length && text[first] === other[first]) first++;
  const start = Math.max(0, first - 20);
  const shown = text.slice(start, start + 80);
  return `${start > 0 ? '…' : ''}${JSON.stringify(shown)}${start + 80 < text.length ? '…' : ''}`;
}

/** A warning when the server shows prefix caching on, or when its version turns it on by default and its metrics are not visible. */
export async function prefixCachingWarnings(access: ServerAccess): Promise<string[]> {
  const advice = 'prompt log-probs have been reported to change with request order under prefix caching: restart vLLM with --no-enable-prefix-caching for scoring runs';
  const metrics = await optionalText(access, `${access.root}/metrics`);
  const labels = metrics === undefined ? undefined : /^vllm:cache_config_info\{([^}]*)\}/m.exec(metrics)?.[1];
  const setting = labels === undefined ? undefined : /enable_prefix_caching="([^"]*)"/.exec(labels)?.[1];
  if (setting !== undefined) return setting.toLowerCase() === 'true' ? [`${access.root} has prefix caching on (its /metrics say so): ${advice}.`] : [];
  const version = Version.safeParse(await optionalJson(access, `${access.root}/version`));
  if (!version.success) return [];
  const [major = 0, minor = 0] = version.data.version.split('.').map((part) => Number.parseInt(part, 10));
  const [sinceMajor, sinceMinor] = PREFIX_CACHING_DEFAULT_SINCE;
  const onByDefault = major > sinceMajor || (major === sinceMajor && minor >= sinceMinor);
  return onByDefault ? [`${access.root} runs vLLM ${version.data.version}, which enables prefix caching unless started with --no-enable-prefix-caching (its /metrics do not say): ${advice}.`] : [];
}

async function optionalText(access: ServerAccess, url: string): Promise<string | undefined> {
  try {
    return await (await access.client.get(url).asResponse()).text();
  } catch {
    return undefined;
  }
}

async function optionalJson(access: ServerAccess, url: string): Promise<unknown> {
  try {
    return await access.client.get(url);
  } catch {
    return undefined;
  }
}
