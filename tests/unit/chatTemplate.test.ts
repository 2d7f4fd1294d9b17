import { describe, expect, it } from 'vitest';
import { jinjaTemplate, zephyrTemplate } from '../../src/core/chatTemplate.ts';

// HF zephyr-7b-beta's chat_template, verbatim.
const ZEPHYR_JINJA =
  "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

const chat = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Hi!' },
];

describe('zephyrTemplate', () => {
  it('renders each turn as tag, newline, content, </s>, newline', () => {
    expect(zephyrTemplate.render(chat, { addGenerationPrompt: true })).toBe(
      '<|system|>\nYou are terse.</s>\n<|user|>\nHi!</s>\n<|assistant|>\n',
    );
    expect(zephyrTemplate.render([{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y' }], { addGenerationPrompt: false })).toBe(
      '<|user|>\nx</s>\n<|assistant|>\ny</s>\n',
    );
  });

  it('matches the model-shipped Jinja template rendered by @huggingface/jinja', () => {
    const jinja = jinjaTemplate(ZEPHYR_JINJA, { eos_token: '</s>' });
    for (const addGenerationPrompt of [true, false]) {
      expect(jinja.render(chat, { addGenerationPrompt })).toBe(zephyrTemplate.render(chat, { addGenerationPrompt }));
    }
  });
});
