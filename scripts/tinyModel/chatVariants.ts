/**
 * The chat formats the tiny model can be generated with, so the paper's non-Zephyr templates are
 * exercised for real (local engine, `serve`, the OpenAI engine) on the one tokenizer we have:
 *  - `zephyr`: the package tokenizer unchanged, Zephyr's template (`<|user|>` tags are plain text);
 *  - `llama3`: Llama-3's special tokens added as added tokens after the 32k vocabulary, BOS
 *    `<|begin_of_text|>` (added by the tokenizer's post-processor, as Llama-3's does), EOS
 *    `<|eot_id|>`, and Meta-Llama-3-8B-Instruct's Jinja template verbatim;
 *  - `ministral`: `[INST]`/`[/INST]` as added special tokens, BOS `<s>`, EOS `</s>`, and a
 *    Ministral-8B-Instruct-style template (BOS from the template, system text before the first
 *    user turn, `[INST]…[/INST]` then the answer and EOS).
 */
import { z } from 'zod';

export const ChatVariant = z.enum(['zephyr', 'llama3', 'ministral']);
export type ChatVariant = z.infer<typeof ChatVariant>;

/** HF zephyr-7b-beta's `chat_template`, verbatim: renders `<|user|>\nHi</s>\n<|assistant|>\n`. */
export const ZEPHYR_CHAT_TEMPLATE =
  "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

/** Meta-Llama-3-8B-Instruct's `chat_template`, verbatim. */
export const LLAMA3_CHAT_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

/** Ministral-8B-Instruct's format, shortened to the roles we use (no tools). */
export const MINISTRAL_CHAT_TEMPLATE =
  "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}{{- bos_token }}{%- for message in loop_messages %}{%- if message['role'] == 'user' %}{%- if loop.first and system_message is defined %}{{- '[INST]' + system_message + '\n\n' + message['content'] + '[/INST]' }}{%- else %}{{- '[INST]' + message['content'] + '[/INST]' }}{%- endif %}{%- elif message['role'] == 'assistant' %}{{- message['content'] + eos_token }}{%- endif %}{%- endfor %}";

export interface ChatVariantSpec {
  /** Appended to the vocabulary in this order, ids from the base vocabulary's size on. */
  addedTokens: readonly string[];
  bosToken: string;
  eosToken: string;
  chatTemplate: string;
}

export const CHAT_VARIANTS: Record<ChatVariant, ChatVariantSpec> = {
  zephyr: { addedTokens: [], bosToken: '<s>', eosToken: '</s>', chatTemplate: ZEPHYR_CHAT_TEMPLATE },
  llama3: {
    addedTokens: ['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
    bosToken: '<|begin_of_text|>',
    eosToken: '<|eot_id|>',
    chatTemplate: LLAMA3_CHAT_TEMPLATE,
  },
  ministral: { addedTokens: ['[INST]', '[/INST]'], bosToken: '<s>', eosToken: '</s>', chatTemplate: MINISTRAL_CHAT_TEMPLATE },
};

/** The package tokenizer's special tokens (Mistral's SentencePiece vocabulary). */
const BASE_SPECIAL_IDS: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };

/** Vocabulary size and BOS/EOS ids of a variant over a base vocabulary of `baseVocabSize` tokens. */
export function variantIds(variant: ChatVariant, baseVocabSize: number): { vocabSize: number; bosTokenId: number; eosTokenId: number } {
  const spec = CHAT_VARIANTS[variant];
  const idOf = (token: string): number => {
    const added = spec.addedTokens.indexOf(token);
    const id = added === -1 ? BASE_SPECIAL_IDS[token] : baseVocabSize + added;
    if (id === undefined) throw new Error(`${variant}: ${token} is neither a base special token nor an added one`);
    return id;
  };
  return { vocabSize: baseVocabSize + spec.addedTokens.length, bosTokenId: idOf(spec.bosToken), eosTokenId: idOf(spec.eosToken) };
}
