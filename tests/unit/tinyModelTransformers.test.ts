/**
 * transformers.js 4.3.2 in Node loads the generated folder from disk only, and its forward pass
 * and greedy `generate()` agree with the float64 reference.
 */
import { AutoModelForCausalLM, AutoTokenizer, env } from '@huggingface/transformers';
import type { PreTrainedModel, PreTrainedTokenizer, Tensor } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadReferenceLlama } from '../support/llamaReference.ts';
import type { ReferenceLlama } from '../support/llamaReference.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

env.allowRemoteModels = false;
env.useFSCache = false;

const chat = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Tell me about the sea.' },
];

let tokenizer: PreTrainedTokenizer;
let model: PreTrainedModel;
let reference: ReferenceLlama;

beforeAll(async () => {
  const dir = await ensureTinyModel();
  tokenizer = await AutoTokenizer.from_pretrained(dir);
  model = await AutoModelForCausalLM.from_pretrained(dir, { device: 'cpu', dtype: 'fp32' });
  reference = await loadReferenceLlama(dir);
});

afterAll(async () => {
  await model?.dispose();
});

function chatInputs(): { input_ids: Tensor; attention_mask: Tensor } {
  return tokenizer.apply_chat_template(chat, { add_generation_prompt: true, return_dict: true }) as unknown as { input_ids: Tensor; attention_mask: Tensor };
}

describe('tiny model in transformers.js', () => {
  it('returns the reference logits from a plain forward pass', async () => {
    const inputs = chatInputs();
    const promptIds = (inputs.input_ids.tolist() as bigint[][])[0]?.map(Number) as number[];
    const { logits } = (await model(inputs)) as { logits: Tensor };
    expect(logits.dims).toEqual([1, promptIds.length, 32000]);
    const expected = reference.forward([promptIds], [promptIds.map(() => 1)]).logits[0] as Float64Array[];
    const actual = logits.data as Float32Array;
    let maxDiff = 0;
    expected.forEach((row, position) => row.forEach((v, token) => (maxDiff = Math.max(maxDiff, Math.abs(v - (actual[position * 32000 + token] as number))))));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('generates the greedy continuation the reference predicts', async () => {
    const inputs = chatInputs();
    const promptIds = (inputs.input_ids.tolist() as bigint[][])[0]?.map(Number) as number[];
    const maxNewTokens = 8;
    const output = (await model.generate({ ...inputs, max_new_tokens: maxNewTokens, do_sample: false })) as Tensor;
    const sequence = (output.tolist() as bigint[][])[0]?.map(Number) as number[];
    expect(sequence.slice(0, promptIds.length)).toEqual(promptIds);
    const generated = sequence.slice(promptIds.length);
    expect(generated.length).toBeGreaterThan(1);
    expect(generated).toEqual(reference.greedyContinuation(promptIds, maxNewTokens));
  });
});
