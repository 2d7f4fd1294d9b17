/**
 * The build config (defaults are the authors', spec §2; errors name the field and what was expected),
 * the example configs, and the dry-run plan: call counts of the paper's build worked out by hand from
 * spec §2 (50 personas, 54 memberships, 11 axes, 100 + 100 questions, 5 CoTs × 10 answers, k = 4).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBuildConfig, type BuildConfig } from '../../src/core/dataset/config.ts';
import { configuredPersonas } from '../../src/core/dataset/people.ts';
import { costOf, estimateByRole, planBuild } from '../../src/core/dataset/plan.ts';

const providers = {
  generator: { type: 'openai', baseUrl: 'https://api.openai.com/v1', model: 'gpt-4-0613', pricing: { promptPerMillion: 30, completionPerMillion: 60 } },
  judge: { type: 'openai', baseUrl: 'https://api.openai.com/v1', model: 'gpt-4-0613' },
  baseline: { type: 'openai', baseUrl: 'http://127.0.0.1:8000/v1', model: 'HuggingFaceH4/zephyr-7b-beta' },
  reward: { type: 'http', url: 'http://127.0.0.1:8001/score' },
  embedder: { type: 'local', model: 'models/sentence-t5-xxl' },
};

function parse(input: unknown): BuildConfig {
  const parsed = parseBuildConfig(input);
  if (!parsed.ok) throw new Error(parsed.issues.join('\n'));
  return parsed.config;
}

describe('config', () => {
  it('defaults to the authors\u2019 pipeline', () => {
    const config = parse({ providers });
    expect(config.seed).toBe(24);
    expect(config.personas).toEqual({ source: 'roster' });
    expect(config.questions).toMatchObject({ personalPerPersona: 100, divergentPerAxis: 100, perCall: 20, temperature: 1, maxTokens: 2000 });
    expect(config.responses).toMatchObject({ cotsPerQuestion: 5, answersPerCot: 10, temperature: 2, topP: 0.8, topK: 50, maxTokens: 512, personalCots: 'sampled', cotAxisList: 'paper' });
    expect(config.filter).toMatchObject({ rewardWindow: 20, k: 4 });
    expect(config.judge).toMatchObject({ batchSize: 5, temperature: 1 });
    expect(config.split).toEqual({ personalTest: 50, personalTrain: 50, divergentTestPerAxis: 50, divergentTrain: 50 });
    expect(config.cvFolds).toBe(5);
    expect(config.providers.generator).toMatchObject({ concurrency: 4 });
  });

  it('names every bad field with what it expected', () => {
    const parsed = parseBuildConfig({
      seed: 'x',
      questions: { temprature: 1, perCall: 0 },
      filter: { k: 3 },
      personas: { source: 'wiki' },
      providers: { ...providers, generator: { type: 'oai' }, judge: { type: 'openai', baseUrl: 'api.openai.com', model: '' }, baseline: {}, embedder: { type: 'http', model: 'x' } },
    });
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.issues).toEqual([
      'seed: expected a number, got string',
      'personas.source: expected "source" to be "roster", "list" or "generate", got "wiki"',
      'questions.perCall: expected a whole number from 1 to 100, got 0',
      'questions: unknown field "temprature"',
      'filter.k: expected a power of two (the judge runs a single-elimination bracket), got 3',
      'providers.generator.type: expected "type" to be "openai" or "local", got "oai"',
      'providers.judge.baseUrl: expected an http(s) URL such as "https://api.openai.com/v1", got "api.openai.com"',
      'providers.judge.model: expected a model name such as "gpt-4-0613", got an empty string',
      'providers.baseline.type: expected "type" to be "openai" or "local", got no "type" field',
      'providers.embedder.type: expected "type" to be "local", got "http"',
    ]);
  });

  it('checks sizes against each other', () => {
    const parsed = parseBuildConfig({ providers, responses: { cotsPerQuestion: 1, answersPerCot: 3 }, filter: { rewardWindow: 2 } });
    expect(!parsed.ok && parsed.issues).toEqual([
      'responses: expected cotsPerQuestion × answersPerCot (3) to be at least filter.k (4): k-means needs k candidates',
      'filter.rewardWindow: expected at least filter.k (4) candidates kept, got 2',
    ]);
    expect(parseBuildConfig(5)).toEqual({ ok: false, issues: ['(top level): expected a JSON object (the build config), got number'] });
    expect(parseBuildConfig({})).toEqual({ ok: false, issues: ['providers: expected an object with the roles generator, judge, baseline, reward and embedder, but the field is missing'] });
  });

  it('accepts both example configs', () => {
    for (const file of ['paper.json', 'tiny.json']) {
      expect(parseBuildConfig(JSON.parse(readFileSync(new URL(`../../examples/build-dataset/${file}`, import.meta.url), 'utf8')))).toMatchObject({ ok: true });
    }
  });

  it('builds the published method from paper.json: every data-shaping setting the paper\u2019s, with its models', () => {
    const paper = parse(JSON.parse(readFileSync(new URL('../../examples/build-dataset/paper.json', import.meta.url), 'utf8')));
    // The defaults are the paper's method; paper.json may only name the dataset and the providers.
    expect({ ...paper, name: 'wikipersonas' }).toEqual(parse({ providers: paper.providers }));
    expect(paper.responses).toMatchObject({ topK: 50, cotAxisList: 'paper', personalCots: 'sampled' });
    expect(paper.providers).toMatchObject({
      generator: { model: 'gpt-4-0613' },
      judge: { model: 'gpt-4-0613' },
      baseline: { model: 'HuggingFaceH4/zephyr-7b-beta', baseUrl: 'http://127.0.0.1:8000/v1' },
      reward: { model: 'models/fsfairx-llama3-rm-v0.1' },
      embedder: { model: 'models/sentence-t5-xxl' },
    });
  });
});

describe('plan (dry run)', () => {
  const config = parse({ providers });
  const plan = planBuild(config, configuredPersonas(config));
  const calls = Object.fromEntries(plan.map((stage) => [stage.stage, stage.calls]));

  it('counts the paper\u2019s calls', () => {
    expect(calls).toEqual({
      // 50 personas × ⌈100 / 20⌉
      'personal questions (G.2)': 250,
      // 11 axes × 5
      'divergent questions (G.2)': 55,
      // 5000 personal questions × 5 CoTs
      'CoT sampling, phase 1 (G.3)': 25_000,
      // 5000 × 5 × 9 + 1100 divergent × 5 × 10
      'answers per CoT, phase 2': 280_000,
      'generic reward': 6100,
      'embeddings + k-means': 6100,
      // rows 5000 + 54 memberships × 100 = 10 400; ⌈20 800 / 5⌉ + ⌈10 400 / 5⌉
      'judge (G.4)': 6240,
    });
    expect(plan.find((stage) => stage.stage === 'judge (G.4)')?.items).toBe(31_200);
  });

  it('prices the roles that have pricing, typical and at most', () => {
    const estimates = estimateByRole(plan, { generator: { promptPerMillion: 30, completionPerMillion: 60 } });
    const generator = estimates.find((estimate) => estimate.role === 'generator');
    expect(generator?.calls).toBe(305);
    expect(generator?.usd).toBeCloseTo(costOf(generator?.promptTokens ?? 0, generator?.completionTokens ?? 0, { promptPerMillion: 30, completionPerMillion: 60 }), 10);
    // At most every completion runs to max_tokens = 2000: 305 × 2000 × $60/M = $36.60 of completions.
    expect((generator?.usdMax ?? 0) - (generator?.promptTokens ?? 0) * 30e-6).toBeCloseTo(36.6, 6);
    expect(estimates.find((estimate) => estimate.role === 'judge')?.usd).toBeUndefined();
  });

  it('plans G.1 for generated people and no phase 1 for gold CoTs', () => {
    const generated = parse({ providers, personas: { source: 'generate', axes: ['diet', 'politics'], maxPerAxis: 5 }, responses: { personalCots: 'gold' } });
    const stages = Object.fromEntries(planBuild(generated, undefined).map((stage) => [stage.stage, stage.calls]));
    expect(stages['personas (G.1)']).toBe(2);
    expect(stages['personal questions (G.2)']).toBe(10 * 5);
    expect(stages['CoT sampling, phase 1 (G.3)']).toBe(0);
    expect(stages['answers per CoT, phase 2']).toBe(1000 * 5 * 10 + 200 * 5 * 10);
  });
});

describe('configHash (which config changes refuse to resume a build)', () => {
  it('ignores endpoints, concurrency, retries, prices and the cache path, and sees everything that shapes the data', async () => {
    const { configHash } = await import('../../scripts/lib/dataset/build.ts');
    const base = parse({ providers });
    const operational = parse({
      cache: 'elsewhere.sqlite',
      providers: { ...providers, generator: { ...providers.generator, baseUrl: 'https://proxy.example/v1', concurrency: 64, maxRetries: 9, pricing: { promptPerMillion: 1, completionPerMillion: 2 } } },
    });
    expect(configHash(operational)).toBe(configHash(base));
    expect(configHash(parse({ providers, seed: 25 }))).not.toBe(configHash(base));
    expect(configHash(parse({ providers: { ...providers, judge: { ...providers.judge, model: 'gpt-4o' } } }))).not.toBe(configHash(base));
    expect(configHash(parse({ providers, judge: { batchSize: 4 } }))).not.toBe(configHash(base));
  });
});
