import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readChatTemplateSetting } from '../../scripts/lib/chatTemplateSetting.ts';
import { LLAMA3_CHAT_TEMPLATE } from '../../scripts/tinyModel/chatVariants.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

describe('--chat-template values', () => {
  it('zephyr is the built-in; a tokenizer_config.json gives its template with the BOS/EOS strings', async () => {
    expect(await readChatTemplateSetting('zephyr')).toEqual({ name: 'zephyr' });
    const dir = await ensureTinyModel('llama3');
    expect(await readChatTemplateSetting(join(dir, 'tokenizer_config.json'))).toEqual({
      name: 'tiny-llama-llama3/tokenizer_config.json',
      source: LLAMA3_CHAT_TEMPLATE,
      bosToken: '<|begin_of_text|>',
      eosToken: '<|eot_id|>',
    });
  });

  it('reads a Jinja file, and a config listing named templates picks "default"', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chat-template-'));
    await writeFile(join(dir, 'chat.jinja'), LLAMA3_CHAT_TEMPLATE);
    expect(await readChatTemplateSetting(join(dir, 'chat.jinja'))).toEqual({ name: 'chat.jinja', source: LLAMA3_CHAT_TEMPLATE });
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: [{ name: 'tool_use', template: 'x' }, { name: 'default', template: 'y' }], eos_token: { content: '</s>' } }));
    expect(await readChatTemplateSetting(join(dir, 'tokenizer_config.json'))).toMatchObject({ source: 'y', eosToken: '</s>' });
  });

  it('says what to give for a missing file, a JSON file that is no tokenizer config, or a config without a template', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chat-template-'));
    await expect(readChatTemplateSetting(join(dir, 'nope.jinja'))).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/nope\.jinja: no such file\. Give "zephyr", the model's tokenizer_config\.json or a Jinja template file\./) });
    await writeFile(join(dir, 'broken.json'), '{');
    await expect(readChatTemplateSetting(join(dir, 'broken.json'))).rejects.toMatchObject({ message: expect.stringMatching(/is not a tokenizer_config\.json/) });
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>' }));
    await expect(readChatTemplateSetting(join(dir, 'tokenizer_config.json'))).rejects.toMatchObject({ message: expect.stringMatching(/has no chat_template/) });
  });
});
