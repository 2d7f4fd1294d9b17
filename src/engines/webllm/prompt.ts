/**
 * The prompt WebLLM builds for a chat request, rendered here character for character from the
 * model's conversation template, so the page can show the exact prompt and count its tokens.
 */
import { z } from 'zod';
import type { ChatMessage } from '../../core/chat.ts';
import { AppError } from '../../core/errors.ts';

export const ConvTemplate = z.looseObject({
  system_template: z.string(),
  system_message: z.string(),
  roles: z.looseObject({ user: z.string(), assistant: z.string() }),
  role_templates: z.record(z.string(), z.string()).optional(),
  seps: z.array(z.string()).min(1),
  role_content_sep: z.string().nullish(),
  role_empty_sep: z.string().nullish(),
  stop_str: z.array(z.string()),
  stop_token_ids: z.array(z.number().int()),
  system_prefix_token_ids: z.array(z.number().int()).nullish(),
  add_role_after_system_message: z.boolean().nullish(),
  render_empty_system_message: z.boolean().nullish(),
});
export type ConvTemplate = z.infer<typeof ConvTemplate>;

export interface RenderedPrompt {
  /** The prompt as one string (what the model saw, without the prefix token ids). */
  text: string;
  /** The pieces WebLLM tokenizes one by one. */
  pieces: string[];
  /** Token ids WebLLM puts before the first piece (`system_prefix_token_ids`, usually BOS). */
  prefixTokenIds: number[];
}

const ROLE_PLACEHOLDER = { user: '{user_message}', assistant: '{assistant_message}' } as const;

/**
 * The prompt WebLLM 0.2.86 builds for a fresh (not multi-round) chat request: its private
 * `getConversationFromChatCompletionRequest` + `getPromptArray`, text-only. String `replace` is
 * used exactly as WebLLM does (first occurrence, `$` patterns included), so the result is
 * character-identical.
 */
export function renderWebLlmPrompt(conv: ConvTemplate, messages: readonly ChatMessage[]): RenderedPrompt {
  const last = messages.at(-1);
  if (!last || last.role !== 'user') throw new AppError('invalid-input', 'The last message must be from the user: WebLLM answers a user turn.');
  let systemOverride: string | undefined;
  const turns: { role: 'user' | 'assistant'; content: string | undefined }[] = [];
  messages.forEach((message, index) => {
    if (message.role === 'system') {
      if (index !== 0) throw new AppError('invalid-input', 'A system message can only come first.');
      systemOverride = message.content;
    } else {
      turns.push({ role: message.role, content: message.content });
    }
  });
  turns.push({ role: 'assistant', content: undefined });

  const systemMessage = systemOverride ?? conv.system_message;
  const systemPrompt =
    systemMessage === '' && conv.render_empty_system_message === false ? '' : conv.system_template.replace('{system_message}', systemMessage);
  const separator = (value: string | null | undefined) => (value || value === '' ? value : ': ');
  const pieces = systemPrompt === '' ? [] : [systemPrompt];
  turns.forEach(({ role, content }, index) => {
    const roleName = conv.roles[role];
    if (content === undefined) {
      pieces.push(roleName + separator(conv.role_empty_sep));
      return;
    }
    const template = conv.role_templates?.[role];
    const body = template === undefined ? content : template.replace(ROLE_PLACEHOLDER[role], content).replace('{function_string}', '');
    const rolePrefix = conv.add_role_after_system_message === false && systemPrompt !== '' && index === 0 ? '' : roleName + separator(conv.role_content_sep);
    pieces.push(rolePrefix + body + conv.seps[index % conv.seps.length]);
  });
  return { text: pieces.join(''), pieces, prefixTokenIds: [...(conv.system_prefix_token_ids ?? [])] };
}

