/**
 * Chat templates: Zephyr's format written out (the paper's baseline model and the tiny test
 * model), and any model's own Jinja template from its tokenizer_config.json.
 */
import { Template } from '@huggingface/jinja';
import type { ChatMessage } from './chat.ts';
import type { ChatTemplateInfo } from './engine.ts';
import { AppError } from './errors.ts';

export interface ChatTemplate {
  readonly name: string;
  render(messages: readonly ChatMessage[], options: { addGenerationPrompt: boolean }): string;
}

const ZEPHYR_EOS = '</s>';

/** `<|role|>\n{content}</s>\n` per message; the generation prompt is `<|assistant|>\n`. */
export const zephyrTemplate: ChatTemplate = {
  name: 'zephyr',
  render(messages, { addGenerationPrompt }) {
    const turns = messages.map((message) => `<|${message.role}|>\n${message.content}${ZEPHYR_EOS}\n`);
    return turns.join('') + (addGenerationPrompt ? '<|assistant|>\n' : '');
  },
};

/** A model's own template (the `chat_template` string of its tokenizer_config.json). */
export function jinjaTemplate(
  source: string,
  specialTokens: { bos_token?: string | undefined; eos_token?: string | undefined } = {},
  name = 'model',
): ChatTemplate {
  const template = new Template(source);
  return {
    name,
    render(messages, { addGenerationPrompt }) {
      return template.render({
        messages: messages.map((message) => ({ ...message })),
        add_generation_prompt: addGenerationPrompt,
        bos_token: specialTokens.bos_token ?? '',
        eos_token: specialTokens.eos_token ?? '',
      });
    },
  };
}

/** The template an engine reports in its info, rebuilt on this side of any worker boundary. */
export function templateFromInfo(info: ChatTemplateInfo): ChatTemplate {
  if (info.source !== undefined) {
    return jinjaTemplate(info.source, { bos_token: info.bosToken, eos_token: info.eosToken }, info.name);
  }
  if (info.name === zephyrTemplate.name) return zephyrTemplate;
  throw new AppError('unsupported', `Unknown chat template "${info.name}" and no template source given.`);
}
