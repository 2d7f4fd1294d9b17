import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadServerTokenizer } from '../../scripts/lib/serverTokenizer.ts';
import { loadReferenceLlama } from '../support/llamaReference.ts';
import { collect, spawnCli } from '../support/runCli.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

const Completion = z.object({ choices: z.array(z.object({ text: z.string(), finish_reason: z.string() })), usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }) });
const Tokens = z.object({ tokens: z.array(z.number()) });

let child: ReturnType<typeof spawnCli>;
let done: ReturnType<typeof collect>;
let base: string;

beforeAll(async () => {
  const dir = await ensureTinyModel();
  child = spawnCli(['serve', '--model', dir, '--port', '0', '--served-model-name', 'tiny', '--quiet']);
  done = collect(child);
  let stdout = '';
  while (!/at (http:\/\/\S+)\/v1/.test(stdout)) {
    const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
    stdout += chunk.toString();
  }
  base = (/at (http:\/\/\S+)\/v1/.exec(stdout) as RegExpExecArray)[1] as string;
});

afterAll(async () => {
  child?.kill('SIGTERM');
  await done;
});

describe('serve command', () => {
  it('generates from a raw prompt on /v1/completions with the engine (greedy = the float64 reference)', async () => {
    const post = async (path: string, body: unknown) => (await fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })).json();
    const { tokens } = Tokens.parse(await post('/tokenize', { model: 'tiny', prompt: 'Once upon a time', add_special_tokens: true }));
    const completion = Completion.parse(await post('/v1/completions', { model: 'tiny', prompt: tokens, max_tokens: 8, temperature: 0 }));
    const reference = await loadReferenceLlama(await ensureTinyModel());
    const expected = reference.greedyContinuation(tokens, 8);
    expect(completion.usage).toEqual(expect.objectContaining({ prompt_tokens: tokens.length, completion_tokens: expected.length }));
    expect(completion.choices[0]?.finish_reason).toBe(expected.at(-1) === 2 ? 'stop' : 'length');
    const tokenizer = await loadServerTokenizer(await ensureTinyModel());
    expect(completion.choices[0]?.text).toBe(tokenizer.decode(expected.filter((id) => id !== 2)));
  });

  it('stops on SIGTERM', async () => {
    child.kill('SIGTERM');
    const run = await done;
    expect(run.signal === 'SIGTERM' || run.code === 0).toBe(true);
  });
});
