/**
 * The page's model loading and persona inference state (src/app/state/model.svelte.ts,
 * persona.svelte.ts) over the real worker client and host, with the fake engine; and the proof that
 * the page and `eval` infer a persona by one rule: same pairs and seed, same shots, prompt and
 * sampling options.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../../src/core/chat.ts';
import type { GenerateOptionsInput } from '../../../src/core/engine.ts';
import { PrefixFile } from '../../../src/core/eval/prefixFile.ts';
import { PERSONA_INFERENCE_DEFAULTS, planPersonaInference, type PersonaInferenceSettings } from '../../../src/core/personaInference.ts';
import { loadEvalDataset } from '../../../scripts/lib/eval/dataset.ts';
import { buildPrefixes } from '../../../scripts/lib/eval/prefixBuilder.ts';
import { createReporter } from '../../../scripts/lib/reporter.ts';
import { makeEvalFixture } from '../../../scripts/fixtures/makeEvalFixture.ts';
import { FakeEngine } from '../../support/fakeEngine.ts';
import { drive } from '../../support/fakeClock.ts';
import { installPageEnvironment, loadModel, openPlayground, paste, restorePageEnvironment, settle } from '../../support/pageRig.ts';

beforeEach(installPageEnvironment);
afterEach(restorePageEnvironment);

const PAIRS = `${JSON.stringify(makeEvalFixture({ personaTexts: false }), null, 2)}\n`;

describe('model state', () => {
  it('loads the catalog’s offline default through the worker: progress, then ready with the engine’s stamp', async () => {
    const { playground, workers } = await openPlayground();
    const { model } = playground;
    expect(model.selectedId).toBe('tiny-llama-random');
    expect(model.gpu.status).toBe('unavailable');
    expect(model.status).toBe('idle');
    await drive(model.load());
    expect(model.status).toBe('ready');
    expect(model.stamp).toEqual({ id: 'tiny-llama-random', label: model.selected?.label, backend: 'transformers', device: 'wasm' });
    expect(workers).toHaveLength(1);
    expect(workers[0]?.sent[0]).toMatchObject({ kind: 'load', payload: { backend: 'transformers', options: { device: 'wasm' } } });
  });

  it('runs one model task at a time and reports a worker that dies as an error with what to do', async () => {
    const { playground, workers } = await openPlayground();
    await loadModel(playground);
    const { model } = playground;
    const first = model.run('generate', 'generating', (engine, signal) => engine.generate([{ role: 'user', content: 'Hi' }], { maxNewTokens: 50 }, undefined, signal));
    await expect(model.run('score', 'scoring', async () => 1)).rejects.toMatchObject({ code: 'invalid-input', message: 'The model is busy (generating): wait for it or cancel it.' });
    workers[0]?.fail('out of memory in the worker');
    await expect(drive(first)).rejects.toMatchObject({ code: 'worker-crashed' });
    expect(model.status).toBe('error');
    expect(model.busy).toBe(false);
    expect(model.nextStep).toMatch(/^Load the model again/);
  });
});

describe('persona state', () => {
  it('infers a persona with G.5 from the person’s train pairs, streams it, and keeps it as a version with its provenance', async () => {
    const { playground, workers } = await openPlayground();
    await loadModel(playground);
    await paste(playground, PAIRS);
    const { persona, pairs } = playground;
    const person = pairs.person;
    if (!person) throw new Error('no person');
    persona.options = { ...persona.options, maxNewTokens: 8, seed: 5 };

    const inferring = persona.infer();
    expect(persona.inferring).toBe(true);
    await drive(inferring);
    expect(persona.error).toBeNull();
    expect(persona.text).toBe('w0 w1 w2 w3 w4 w5 w6 w7');
    expect(persona.versions).toHaveLength(1);
    const plan = planPersonaInference({ person: person.key, train: person.train, seed: 5, settings: { ...PERSONA_INFERENCE_DEFAULTS, maxNewTokens: 8 } });
    expect(persona.version?.provenance).toEqual({ source: 'inferred', model: playground.model.stamp, shots: 4, ...plan.record });
    expect(workers[0]?.sent.find((request) => request.kind === 'generate')?.payload).toEqual({ messages: plan.messages, options: plan.options });

    // Stored: a reload finds the version, selected, in the editor.
    await settle();
    const reloaded = (await openPlayground()).playground.persona;
    expect(reloaded.versions.map((version) => version.text)).toEqual(['w0 w1 w2 w3 w4 w5 w6 w7']);
    expect(reloaded.text).toBe('w0 w1 w2 w3 w4 w5 w6 w7');
  });

  it('shows the tokens generated so far and their rate while inferring (the engine\'s own count), and the final count after', async () => {
    const { playground } = await openPlayground();
    await loadModel(playground);
    await paste(playground, PAIRS);
    const { persona } = playground;
    persona.options = { ...persona.options, maxNewTokens: 400 };
    const inferring = persona.infer();
    await drive(new Promise<void>((resolve) => setTimeout(resolve, 250)));
    const live = persona.tokenRate;
    expect(persona.inferring).toBe(true);
    expect(live?.exact).toBe(true);
    expect(live?.done).toBeGreaterThan(0);
    expect(live?.done).toBeLessThan(400);
    // The streamed text and the count arrive in the same frame: one "wN" per token.
    expect(persona.text.trim().split(' ')).toHaveLength(live?.done ?? -1);
    expect(live?.perSecond).toBeCloseTo((live?.done ?? 0) / (live?.seconds ?? 1), 9);
    await drive(inferring);
    expect(persona.tokenRate).toMatchObject({ done: 400, exact: true });
    expect(persona.tokenRate?.seconds).toBeGreaterThan(live?.seconds ?? Infinity);
  });

  it('a cancelled inference leaves the partial text in the editor, unsaved; without train pairs it says what to do', async () => {
    const { playground } = await openPlayground();
    await loadModel(playground);
    await paste(playground, PAIRS);
    const { persona, model } = playground;
    persona.options = { ...persona.options, maxNewTokens: 400 };
    const inferring = persona.infer();
    await drive(new Promise<void>((resolve) => setTimeout(resolve, 30)));
    model.cancelTask();
    await drive(inferring);
    expect(persona.error).toBe('Inference cancelled: the partial text is in the editor, unsaved.');
    expect(persona.text).toMatch(/^ w0 w1/);
    expect(persona.versions).toHaveLength(0);
    expect(persona.dirty).toBe(true);

    await paste(playground, `${JSON.stringify({ persona: 'Only Tests', prompt: 'Q?', chosen: 'a', rejected: 'b', split: 'test' })}\n`);
    await drive(persona.infer());
    expect(persona.error).toBe('Only Tests has no train pairs: mark some pairs "split": "train".');
  });
});

describe('one persona-inference rule for the page and eval', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'persona-rule-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** What eval's prefix builder asks the engine for each persona, and the shot ids it records. */
  async function evalRequests(settings: PersonaInferenceSettings, seed: number) {
    const path = join(dir, 'pairs.json');
    await writeFile(path, PAIRS);
    const reporter = createReporter('silent');
    const dataset = await drive(loadEvalDataset(path, reporter));
    const engine = new FakeEngine('fake');
    const calls: { messages: readonly ChatMessage[]; options: GenerateOptionsInput }[] = [];
    const generate = engine.generate.bind(engine);
    engine.generate = (messages, options, onToken, signal) => {
      calls.push({ messages, options });
      return generate(messages, options, onToken, signal);
    };
    const { file } = await drive(buildPrefixes({ dataset, prefixes: ['persona'], seed, engine, generation: settings, outPath: join(dir, 'prefixes.json'), reporter }));
    return { calls, file: PrefixFile.parse(file), names: dataset.names };
  }

  for (const variant of ['paper', 'authors'] as const) {
    it(`the same pairs and seed give the same shots, prompt and sampling options (${variant} layout)`, async () => {
      const settings: PersonaInferenceSettings = { ...PERSONA_INFERENCE_DEFAULTS, variant, maxNewTokens: 6, topK: variant === 'paper' ? 50 : 0 };
      const seed = 24;
      const cli = await evalRequests(settings, seed);
      const { playground, workers } = await openPlayground();
      await loadModel(playground);
      await paste(playground, PAIRS);
      playground.persona.options = { ...settings, seed };
      for (const [index, name] of cli.names.entries()) {
        playground.pairs.personKey = name;
        await settle();
        await drive(playground.persona.infer());
        const pageRequest = workers[0]?.sent.filter((request) => request.kind === 'generate')[index]?.payload;
        expect(pageRequest).toEqual({ messages: cli.calls[index]?.messages, options: cli.calls[index]?.options });
        const pageRecord = playground.persona.version?.provenance;
        const cliRecord = cli.file.provenance.generated.persona?.[name];
        expect(pageRecord).toMatchObject({ variant, shotIds: cliRecord?.shotIds, generationSeed: cliRecord?.seed, topK: cliRecord?.topK, topP: cliRecord?.topP });
      }
      expect(new Set(cli.calls.map((call) => call.messages[1]?.content)).size).toBe(cli.names.length);
    });
  }
});
