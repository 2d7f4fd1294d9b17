import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/core/errors.ts';
import {
  inferPersona,
  PERSONA_INFERENCE_DEFAULTS,
  planPersonaInference,
  type PersonaInferenceSettings,
  type PersonaShotPair,
} from '../../src/core/personaInference.ts';
import { ASSISTANT_SYSTEM_PROMPT, PROMPTS_VERSION, personaInferencePrompt } from '../../src/core/prompts.ts';
import { FakeEngine } from '../support/fakeEngine.ts';

/** Train pairs as an axis's members hold them: the same shared questions at the same positions. */
function trainOf(person: string, count = 12): PersonaShotPair[] {
  return Array.from({ length: count }, (_, i) => ({ id: `${person}-${i}`, prompt: `Shared question ${i}?`, chosen: `${person} yes ${i}`, rejected: `${person} no ${i}` }));
}

const settings = (overrides: Partial<PersonaInferenceSettings> = {}): PersonaInferenceSettings => ({ ...PERSONA_INFERENCE_DEFAULTS, ...overrides });

describe('persona inference (G.5): one rule for the page and eval', () => {
  it('defaults to the paper: 4 shots of x and y_w, temperature 1, top-p 1, 512 new tokens, and top-k 50 as Hugging Face generate sampled', () => {
    expect(PERSONA_INFERENCE_DEFAULTS).toEqual({ variant: 'paper', shots: 4, maxNewTokens: 512, temperature: 1, topP: 1, topK: 50 });
  });

  it('draws distinct train pairs, the same for the same person and seed, and renders G.5 with the system turn', () => {
    const train = trainOf('Mara Quill');
    const plan = planPersonaInference({ person: 'Mara Quill', train, seed: 24, settings: settings() });
    expect(plan.shots).toHaveLength(4);
    expect(new Set(plan.shots.map((shot) => shot.id)).size).toBe(4);
    expect(plan.shots.every((shot) => train.includes(shot))).toBe(true);
    expect(planPersonaInference({ person: 'Mara Quill', train, seed: 24, settings: settings() })).toEqual(plan);
    expect(plan.messages).toEqual([
      { role: 'system', content: ASSISTANT_SYSTEM_PROMPT },
      { role: 'user', content: personaInferencePrompt({ shots: plan.shots, showRejected: false }) },
    ]);
    expect(plan.messages[1]?.content).not.toContain('Dispreferred');
  });

  it('gives each member of an axis their own draw (not the same shared questions) and each seed another', () => {
    const positions = (person: string, seed: number) => planPersonaInference({ person, train: trainOf(person), seed, settings: settings() }).shots.map((shot) => shot.prompt);
    expect(positions('Mara Quill', 24)).not.toEqual(positions('Otto Brandt', 24));
    expect(positions('Mara Quill', 24)).not.toEqual(positions('Mara Quill', 25));
  });

  it('the authors’ layout shows y_l from the same shots; the record says which layout, shots, seeds and decoding were used', () => {
    const train = trainOf('Mara Quill');
    const paper = planPersonaInference({ person: 'Mara Quill', train, seed: 3, settings: settings() });
    const authors = planPersonaInference({ person: 'Mara Quill', train, seed: 3, settings: settings({ variant: 'authors', topK: 0 }) });
    expect(authors.shots).toEqual(paper.shots);
    expect(authors.messages[1]?.content).toBe(personaInferencePrompt({ shots: paper.shots, showRejected: true }));
    expect(authors.options).toEqual({ maxNewTokens: 512, temperature: 1, topP: 1, topK: 0, seed: paper.options.seed });
    expect(authors.record).toEqual({
      variant: 'authors',
      showRejected: true,
      shotIds: paper.shots.map((shot) => shot.id),
      seed: 3,
      generationSeed: paper.options.seed,
      temperature: 1,
      topP: 1,
      topK: 0,
      maxNewTokens: 512,
      promptsVersion: PROMPTS_VERSION,
    });
  });

  it('shows every train pair when there are fewer than asked, and refuses a person without train pairs', () => {
    expect(planPersonaInference({ person: 'A', train: trainOf('A', 2), seed: 0, settings: settings() }).shots).toHaveLength(2);
    expect(() => planPersonaInference({ person: 'Mara Quill', train: [], seed: 0, settings: settings() })).toThrow(
      new AppError('invalid-input', 'Mara Quill has no train pairs to infer a persona from: mark some pairs "split": "train".'),
    );
  });

  it('runs the plan on an engine: its messages and options, streamed, the completion stripped; a cancel is an error, not a persona', async () => {
    const engine = new FakeEngine('fake', 0);
    const generate = vi.spyOn(engine, 'generate');
    const plan = planPersonaInference({ person: 'Mara Quill', train: trainOf('Mara Quill'), seed: 1, settings: settings({ maxNewTokens: 3 }) });
    const deltas: string[] = [];
    await expect(inferPersona(engine, plan, (delta) => deltas.push(delta))).resolves.toEqual({ text: 'w0 w1 w2', finishReason: 'length', tokens: 3 });
    expect(deltas).toEqual([' w0', ' w1', ' w2']);
    expect(generate.mock.calls[0]?.slice(0, 2)).toEqual([plan.messages, plan.options]);

    const abort = new AbortController();
    abort.abort();
    await expect(inferPersona(engine, plan, undefined, abort.signal)).rejects.toMatchObject({ code: 'aborted' });
  });
});
