/**
 * `eval` end to end on the tiny model and the generated fixture dataset (CLI in a child process):
 * every report section; summary.json recomputed here from pairs.jsonl; the prefix file read back
 * by `score --persona-file` and by a later `eval --prefix-file`; persona inference by the engine's
 * own model and gold/persona-gpt4 texts from an API role; a kill -9 mid-run resumed without
 * rescoring; and the judge path against the scripted OpenAI-compatible server.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PrefixFile } from '../../src/core/eval/prefixFile.ts';
import { EvalPairRow, GenerationRow, JudgementRow, type ScoredPairRow } from '../../src/core/eval/rows.ts';
import { fixedPoints } from '../../src/core/eval/shuffle.ts';
import { importPersonas } from '../../src/core/personas.ts';
import { ASSISTANT_SYSTEM_PROMPT, goldPersonaPrompt, personaInferencePrompt } from '../../src/core/prompts.ts';
import { bootstrapMeanInterval } from '../../src/core/stats.ts';
import { createTransformersEngine } from '../../src/engines/transformers.ts';
import { makeEvalFixture } from '../../scripts/fixtures/makeEvalFixture.ts';
import { createOpenAiServer } from '../../scripts/lib/openaiServer.ts';
import { loadServerTokenizer } from '../../scripts/lib/serverTokenizer.ts';
import { runCli, spawnCli } from '../support/runCli.ts';
import { chatCompletionBody, reply, startScriptedOpenAiServer, type ScriptedServer } from '../../scripts/fixtures/scriptedOpenAiServer.ts';
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

let model: string;
let dir: string;
let full: string;
let bare: string;
let out1: string;
let firstRun: Awaited<ReturnType<typeof runCli>>;

const FIXTURE = { seed: 7, trainPerType: 3, testPerType: 2 } as const;
const MAIN_PREFIXES = ['none', 'tag', 'few-shot', 'persona', 'name', 'gold', 'shuffle-persona'] as const;

async function readRows<Schema extends z.ZodType>(path: string, schema: Schema): Promise<z.output<Schema>[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => schema.parse(JSON.parse(line)));
}

/** Parsed summary.json: only the parts the tests read; `unknown` elsewhere. */
const Interval = z.object({ estimate: z.number(), lower: z.number(), upper: z.number() });
const Across = z.object({ personas: z.number(), meanOfPersonas: Interval, pooled: z.object({ n: z.number(), correct: z.number(), ties: z.number() }) });
const Summary = z.object({
  pairs: z
    .object({
    counts: z.object({ rows: z.number(), scored: z.number(), failed: z.number(), failedByCode: z.record(z.string(), z.number()), writtenBySession: z.record(z.string(), z.number()) }),
    accuracy: z.array(z.object({ prefix: z.string(), scored: z.number(), failed: z.number(), byType: z.record(z.string(), Across), total: Across })),
    baselines: z.object({ random: z.number(), noPrefix: z.object({ byType: z.record(z.string(), z.number()), total: z.number() }) }),
    sensitivity: z.array(z.object({ base: z.string(), rightMinusShuffled: z.object({ total: Interval.extend({ personas: z.number() }) }), keptOwnPrefix: z.array(z.string()) })),
    prefixGain: z.array(z.object({ prefix: z.string(), points: z.array(z.object({ persona: z.string(), baseline: z.number(), prefixed: z.number() })), correlation: z.object({ r: z.number().nullable(), p: z.number().nullable(), n: z.number() }) })),
    })
    .optional(),
  personas: z.object({ columns: z.array(z.object({ column: z.string(), rouge1: z.object({ mean: z.number() }), words: z.object({ mean: z.number() }) })) }).optional(),
  generations: z
    .object({
      contestants: z.array(z.string()),
      matrix: z.object({ labels: z.array(z.string()), cells: z.array(z.array(z.object({ games: z.number(), wins: z.number(), losses: z.number(), ties: z.number() }))) }),
      agreement: z.object({ pairs: z.number(), agreeing: z.number(), rate: z.number().nullable() }),
      judgements: z.object({ ok: z.number(), failed: z.number(), failedByCode: z.record(z.string(), z.number()) }),
    })
    .optional(),
});

async function readSummary(out: string) {
  return Summary.parse(JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')));
}

beforeAll(async () => {
  model = await ensureTinyModel();
  dir = await mkdtemp(join(tmpdir(), 'eval-cli-'));
  full = join(dir, 'full.json');
  bare = join(dir, 'bare.json');
  await writeFile(full, JSON.stringify(makeEvalFixture({ ...FIXTURE, longPair: true })));
  await writeFile(bare, JSON.stringify(makeEvalFixture({ ...FIXTURE, personaTexts: false })));
  out1 = join(dir, 'out1');
  firstRun = await runCli(['eval', '--dataset', full, '--engine', `local:${model}`, '--prefixes', MAIN_PREFIXES.join(','), '--out', out1, '--quiet']);
});

describe('eval: scoring every prefix', () => {
  it('writes a row per (prefix, pair), failures as rows with a reason, and exits 2 because some failed', async () => {
    expect(firstRun.code).toBe(2);
    // --quiet keeps warnings: one per failed row, naming it.
    const warnings = firstRun.stderr.trimEnd().split('\n');
    expect(warnings).toHaveLength(MAIN_PREFIXES.length);
    for (const line of warnings) expect(line).toMatch(/^warning: [a-z-]+ mara-quill-test-personal-long: The prompt plus the longest answer needs \d+ tokens/);
    const rows = await readRows(join(out1, 'pairs.jsonl'), EvalPairRow);
    // 4 personas × 4 test pairs + 1 pair longer than the model's context, under 7 prefixes.
    expect(rows).toHaveLength(17 * MAIN_PREFIXES.length);
    expect(new Set(rows.map((row) => row.key)).size).toBe(rows.length);
    const failed = rows.filter((row) => !row.ok);
    expect(failed.map((row) => row.id)).toEqual(MAIN_PREFIXES.map(() => 'mara-quill-test-personal-long'));
    for (const row of failed) if (!row.ok) expect(row).toMatchObject({ code: 'context-exceeded', reason: expect.stringMatching(/context window of 2048/) });
    expect(firstRun.stdout).toMatch(/^7 row\(s\) failed: context-exceeded 7 \(listed in the report\)\.$/m);
    for (const row of rows) if (row.ok) expect(row).toMatchObject({ convention: 'authors', norm: 'mean', method: 'one-pass-cached-prompt', truncated: { prompt: false, answers: false } });
    // Longest first: the few-shot and persona prefixes (long user turns) come before no prefix.
    const firstNone = rows.findIndex((row) => row.prefix === 'none' && row.ok);
    expect(rows.slice(0, firstNone).some((row) => row.prefix === 'few-shot')).toBe(true);
  });

  it('summary.json equals what the per-pair rows give when recomputed here', async () => {
    const rows = (await readRows(join(out1, 'pairs.jsonl'), EvalPairRow)).filter((row): row is ScoredPairRow => row.ok);
    const summary = (await readSummary(out1)).pairs;
    if (!summary) throw new Error('summary.json has no pairs section');
    expect(summary.counts).toMatchObject({ rows: 119, scored: 112, failed: 7, failedByCode: { 'context-exceeded': 7 } });
    /** Per-persona accuracy in order of the persona's first row, as the summary resamples them. */
    const perPersona = (prefix: string, type?: string) => {
      const tally = new Map<string, { n: number; correct: number }>();
      for (const row of rows) {
        if (row.prefix !== prefix || (type !== undefined && row.type !== type)) continue;
        const entry = tally.get(row.persona) ?? { n: 0, correct: 0 };
        tally.set(row.persona, { n: entry.n + 1, correct: entry.correct + (row.correct ? 1 : 0) });
      }
      return new Map([...tally].map(([persona, { n, correct }]) => [persona, correct / n]));
    };
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    for (const prefix of MAIN_PREFIXES) {
      const entry = summary.accuracy.find((candidate) => candidate.prefix === prefix);
      const ofPrefix = rows.filter((row) => row.prefix === prefix);
      expect(entry?.scored).toBe(ofPrefix.length);
      expect(entry?.total.pooled).toEqual({ n: ofPrefix.length, correct: ofPrefix.filter((row) => row.correct).length, ties: ofPrefix.filter((row) => row.tie).length });
      // Persona order in the summary is the order of each persona's first row in the whole table,
      // which for the total is the first row of any type.
      const totals = [...perPersona(prefix).values()];
      expect(entry?.total.meanOfPersonas).toEqual(bootstrapMeanInterval(totals, { seed: 24, resamples: 1000 }));
      for (const type of ['personal', 'divergent']) {
        const values = [...perPersona(prefix, type).values()];
        expect(entry?.byType[type]?.meanOfPersonas.estimate).toBeCloseTo(mean(values), 12);
        expect(entry?.byType[type]?.personas).toBe(4);
      }
    }
    expect(summary.baselines.noPrefix.total).toBeCloseTo(mean([...perPersona('none').values()]), 12);
    const [sensitivity] = summary.sensitivity;
    const right = perPersona('persona');
    const shuffled = perPersona('shuffle-persona');
    expect(sensitivity?.rightMinusShuffled.total.estimate).toBeCloseTo(mean([...right].map(([persona, value]) => value - (shuffled.get(persona) as number))), 12);
    const gold = summary.prefixGain.find((entry) => entry.prefix === 'gold');
    const baseline = perPersona('none');
    expect(gold?.points.map((point) => [point.persona, point.baseline, point.prefixed])).toEqual([...perPersona('gold')].map(([persona, value]) => [persona, baseline.get(persona), value]));
  });

  it('produces every report section; eval personas adds Table 2 and 11 to the same report', async () => {
    const personas = await runCli(['eval', 'personas', '--out', out1]);
    expect(personas.stderr).toBe('');
    expect(personas.code).toBe(0);
    expect(personas.stdout).toMatch(/^prefix\s+R1\s+R1 \(random\)\s+words\s+personas$/m);
    // The fixture's gold texts compared with themselves.
    expect(personas.stdout).toMatch(/^persona gold\s+1\.00 ± 0\.00\s+0\.\d\d ± 0\.\d\d\s+\d+ ± \d+\s+4$/m);
    // Table 13 uses the run's own shuffle: a tag shares 3 of its 4 tokens with another persona's.
    expect(personas.stdout).toMatch(/^tag\s+1\s+0\.75\s+1\s+1\s+0\.75\s+1$/m);
    const summary = await readSummary(out1);
    expect(summary.personas?.columns.map((column) => column.column)).toEqual(['few-shot', 'persona', 'persona-gpt4', 'gold']);
    const markdown = await readFile(join(out1, 'report.md'), 'utf8');
    for (const heading of [
      '## Accuracy by prefix and question type (Figure 3/5)',
      '## Prefix sensitivity: right vs shuffled vs no prefix (Appendix L)',
      '## Prefix gain per persona: prefixed vs no prefix, same model (one-run view)',
      '## Persona quality: ROUGE against the gold persona (Table 2)',
      '### Examples (Table 11): ROUGE-L against gold',
      '## Prefix vs its shuffled counterpart: ROUGE-Lsum (Table 13)',
      '## Prefix provenance: who wrote each prefix',
      '## Failures',
    ]) {
      expect(markdown).toContain(`\n${heading}\n`);
    }
    const html = await readFile(join(out1, 'report.html'), 'utf8');
    for (const id of ['accuracy', 'sensitivity', 'prefix-gain', 'personas', 'failures']) expect(html).toContain(`id="${id}"`);
  });

  it('keeps every prefix in the prefix file, readable by `score --persona-file`, which scores the same prefix identically', async () => {
    const file = PrefixFile.parse(JSON.parse(await readFile(join(out1, 'prefixes.json'), 'utf8')));
    expect(file.personas.map((persona) => persona.name)).toEqual(['Mara Quill', 'Tobias Fenn', 'Ines Calder', 'Ravi Okoro']);
    file.personas.forEach((persona, index) => {
      expect(persona.prefixes).toMatchObject({ tag: `<special_person_tag_${index}>`, persona: expect.any(String), gold: expect.any(String), xyw_2s: expect.stringMatching(/^## Prompt:\n/) });
      const shotIds = file.provenance.fewShot?.shotIds[persona.name] ?? [];
      expect(shotIds).toHaveLength(2);
      for (const id of shotIds) expect(id).toMatch(new RegExp(`^${persona.name.toLowerCase().replace(' ', '-')}-train-`));
    });
    const assignment = file.provenance.shuffle?.assignment ?? {};
    expect(fixedPoints(assignment).length).toBeLessThanOrEqual(1);
    const rows = await readRows(join(out1, 'pairs.jsonl'), EvalPairRow);
    for (const row of rows) if (row.prefix === 'shuffle-persona') expect(row.prefixFrom).toBe(assignment[row.persona]);
    expect(importPersonas(await readFile(join(out1, 'prefixes.json'), 'utf8')).map((persona) => persona.name)).toHaveLength(4);

    const scored = await runCli(['score', '--model', model, '--pairs', bare, '--persona-file', join(out1, 'prefixes.json'), '--prefix', 'persona', '--json', '--quiet']);
    expect(scored.code).toBe(0);
    const ScoreLine = z.object({ id: z.string(), prompt_ids: z.array(z.number()), chosen: z.object({ score: z.number() }), rejected: z.object({ score: z.number() }) });
    const lines = scored.stdout.trimEnd().split('\n').map((line) => ScoreLine.parse(JSON.parse(line)));
    expect(lines).toHaveLength(16);
    for (const line of lines) {
      const row = rows.find((candidate) => candidate.prefix === 'persona' && candidate.id === line.id);
      if (!row?.ok) throw new Error(`no scored persona row for ${line.id}`);
      expect(row.tokens.prompt).toBe(line.prompt_ids.length);
      expect(row.scores.chosen).toBeCloseTo(line.chosen.score, 9);
      expect(row.scores.rejected).toBeCloseTo(line.rejected.score, 9);
    }
  });

  it('a later run reuses the texts and the shuffle with --prefix-file, with no model to write them', async () => {
    const out2 = join(dir, 'out2');
    const run = await runCli(['eval', '--dataset', bare, '--engine', `local:${model}`, '--prefixes', 'gold,shuffle-persona', '--prefix-file', join(out1, 'prefixes.json'), '--out', out2, '--quiet']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const before = new Map((await readRows(join(out1, 'pairs.jsonl'), EvalPairRow)).map((row) => [row.key, row]));
    const after = await readRows(join(out2, 'pairs.jsonl'), EvalPairRow);
    expect(after).toHaveLength(32);
    for (const row of after) {
      const earlier = before.get(row.key);
      if (!row.ok || !earlier?.ok) throw new Error(`${row.key} did not score in both runs`);
      expect(row.prefixFrom).toBe(earlier.prefixFrom);
      expect(row.scores.chosen).toBeCloseTo(earlier.scores.chosen as number, 9);
      expect(row.correct).toBe(earlier.correct);
    }
  });

  it('refuses what cannot run, in one line, before loading a model', async () => {
    const gold = await runCli(['eval', '--dataset', bare, '--engine', `local:${model}`, '--prefixes', 'none,gold', '--out', join(dir, 'nogold')]);
    expect(gold.code).toBe(2);
    expect(gold.stderr.trim()).toBe(
      'error: Prefix "gold" needs a text for 4 persona(s) (first: Mara Quill): give them in --prefix-file or the dataset\'s personas, or name a model with --persona-model openai:<baseUrl>#<model>.',
    );
    const norm = await runCli(['eval', '--dataset', full, '--engine', `local:${model}`, '--prefixes', 'none', '--norm', 'sum', '--out', out1, '--quiet']);
    expect(norm.code).toBe(2);
    expect(norm.stderr).toMatch(/^error: .*out1 holds a run with another --norm \(mean, now sum\): resume with the same settings, or use a new --out folder\.$/m);
    const webllm = await runCli(['eval', '--dataset', full, '--engine', 'webllm:Llama-3.2-1B-Instruct', '--prefixes', 'none', '--out', join(dir, 'webllm')], { BROWSER_ENGINE_DIST: join(dir, 'no-build') });
    expect(webllm.code).toBe(2);
    expect(webllm.stderr).toMatch(/^error: .*no-build holds no production build with driver\.html: run `npm run build` first/m);
  });
});

describe('eval: an OpenAI-compatible engine', () => {
  it('scores through openai:<baseUrl>#<model> (prompt log-probs from our own server) as the local engine does', async () => {
    const local = await createTransformersEngine({ model, device: 'cpu' });
    const server = createOpenAiServer(local, { modelName: 'tiny', tokenizer: await loadServerTokenizer(model) });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const out = join(dir, 'openai');
      const run = await runCli(['eval', '--dataset', bare, '--engine', `openai:http://127.0.0.1:${port}/v1#tiny`, '--prefixes', 'none,tag', '--out', out, '--quiet']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const reference = new Map((await readRows(join(out1, 'pairs.jsonl'), EvalPairRow)).map((row) => [row.key, row]));
      const rows = await readRows(join(out, 'pairs.jsonl'), EvalPairRow);
      expect(rows).toHaveLength(32);
      for (const row of rows) {
        const other = reference.get(row.key);
        if (!row.ok || !other?.ok) throw new Error(`${row.key} did not score in both runs`);
        expect(row.method).not.toBe(other.method);
        expect(row.tokens).toEqual(other.tokens);
        expect(Math.abs((row.scores.chosen as number) - (other.scores.chosen as number))).toBeLessThan(1e-4);
        expect(Math.abs((row.scores.rejected as number) - (other.scores.rejected as number))).toBeLessThan(1e-4);
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await local.dispose();
    }
  });
});

describe('eval: a killed run resumes where it stopped', () => {
  it('kill -9 after some rows, then the same command: every pair scored exactly once, results as an uninterrupted run', async () => {
    const out = join(dir, 'killed');
    const prefixes = ['none', 'tag', 'few-shot', 'name'];
    const args = ['eval', '--dataset', full, '--engine', `local:${model}`, '--prefixes', prefixes.join(','), '--out', out, '--quiet'];
    const child = spawnCli(args);
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    const rowsFile = join(out, 'pairs.jsonl');
    const lineCount = async () => (existsSync(rowsFile) ? (await readFile(rowsFile, 'utf8')).split('\n').length - 1 : 0);
    // Polls for rows (not a timing assertion: the wait only decides when to kill).
    while ((await lineCount()) < 12) await delay(25);
    child.kill('SIGKILL');
    await exited;
    const killedRows = await readRows(rowsFile, EvalPairRow).catch(async () => {
      // A kill in the middle of a write leaves a torn last line; the resumed run cuts it off.
      const text = await readFile(rowsFile, 'utf8');
      return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((line) => EvalPairRow.parse(JSON.parse(line)));
    });
    expect(killedRows.length).toBeGreaterThanOrEqual(12);
    expect(killedRows.length).toBeLessThan(17 * prefixes.length);

    const resumed = await runCli(args.filter((arg) => arg !== '--quiet'));
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toContain(`Resuming in ${out}: ${killedRows.length} of ${17 * prefixes.length} (prefix, pair) rows already written.`);
    const rows = await readRows(rowsFile, EvalPairRow);
    expect(rows).toHaveLength(17 * prefixes.length);
    expect(new Set(rows.map((row) => row.key)).size).toBe(rows.length);
    // Exactly two sessions: the killed one wrote the rows it had, the resumed one the rest.
    const sessions = [...new Set(rows.map((row) => row.session))];
    expect(sessions).toHaveLength(2);
    expect(rows.filter((row) => row.session === sessions[0])).toHaveLength(killedRows.length);
    expect(rows.slice(0, killedRows.length)).toEqual(killedRows);
    const summary = await readSummary(out);
    expect(summary.pairs?.counts.writtenBySession).toEqual({ [sessions[0] as string]: killedRows.length, [sessions[1] as string]: rows.length - killedRows.length });
    // Same numbers as the uninterrupted first run for these prefixes.
    const reference = new Map((await readRows(join(out1, 'pairs.jsonl'), EvalPairRow)).map((row) => [row.key, row]));
    for (const row of rows) {
      const other = reference.get(row.key);
      expect(row.ok).toBe(other?.ok);
      if (row.ok && other?.ok) {
        expect(row.scores.chosen).toBeCloseTo(other.scores.chosen as number, 9);
        expect(row.correct).toBe(other.correct);
      }
    }
  });
});

describe('eval: generated prefixes and judged generations', () => {
  let server: ScriptedServer;
  let judgeCalls = 0;
  let failFirstJudgeCall = true;

  /** The judge prefers the longer answer (Output (a) when equal): a rule the test can recompute. */
  function judgeReply(content: string): string {
    const examples = [...content.matchAll(/### Output \(a\) for example (\d+):\n([\s\S]*?)\n\n### Output \(b\) for example \1:\n([\s\S]*?)(?=\n\n## Example \d+:|\n\n## Preferred output in JSON format)/g)];
    const verdicts = examples.map(([, , a = '', b = '']) => JSON.stringify({ 'Concise explanation': 'longer is better', 'Output (a) is better than Output (b)': a.length >= b.length }));
    judgeCalls++;
    // The first call answers one verdict short: nothing can be attributed, every comparison fails.
    if (failFirstJudgeCall && judgeCalls === 1) return verdicts.slice(1).join('\n\n');
    return verdicts.join('\n\n');
  }

  beforeAll(async () => {
    server = await startScriptedOpenAiServer({
      '/v1/chat/completions': (body) => {
        const { messages } = z.object({ messages: z.array(z.object({ role: z.string(), content: z.string() })) }).parse(body);
        const last = messages.at(-1)?.content ?? '';
        if (last.includes('## Preferred output in JSON format for example 3-')) return chatCompletionBody([judgeReply(last)]);
        const name = /The person is (.+)\n/.exec(last)?.[1];
        if (name) return chatCompletionBody([`  Gold persona of ${name}: likes long answers.  `]);
        if (last.startsWith('Given a few questions a user asks')) return chatCompletionBody([`Persona from ${last.split('## User Question').length - 1} shots.`]);
        return reply({ status: 400, body: { error: { message: 'unexpected request' } } });
      },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('infers "persona" with the engine\u2019s own model (G.5, seeded) and gets "gold" from the API role (G.6); a rerun regenerates nothing', async () => {
    const out = join(dir, 'generated');
    const args = ['eval', '--dataset', bare, '--engine', `local:${model}`, '--prefixes', 'persona,gold', '--persona-model', `openai:${server.baseUrl}#gpt-4-0613`, '--persona-max-tokens', '12', '--out', out, '--quiet'];
    const run = await runCli(args);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const file = PrefixFile.parse(JSON.parse(await readFile(join(out, 'prefixes.json'), 'utf8')));
    const dataset = makeEvalFixture({ ...FIXTURE, personaTexts: false });
    const engine = await createTransformersEngine({ model, device: 'cpu' });
    try {
      for (const persona of file.personas) {
        const provenance = file.provenance.generated.persona?.[persona.name];
        expect(provenance).toMatchObject({ model: `transformers:${model}`, temperature: 1, topP: 1, topK: 50, maxNewTokens: 12, variant: 'paper', showRejected: false, shotIds: expect.any(Array) });
        expect(provenance?.shotIds).toHaveLength(4);
        const shots = (provenance?.shotIds ?? []).map((id) => dataset.pairs.find((pair) => pair.id === id && pair.split === 'train' && pair.persona === persona.name));
        expect(shots.every(Boolean)).toBe(true);
        // The same G.5 chat with the recorded seed gives the stored text again.
        const again = await engine.generate(
          [
            { role: 'system', content: ASSISTANT_SYSTEM_PROMPT },
            { role: 'user', content: personaInferencePrompt({ shots: shots.map((shot) => ({ prompt: shot?.prompt ?? '', chosen: shot?.chosen ?? '' })), showRejected: false }) },
          ],
          { maxNewTokens: 12, temperature: 1, topP: 1, topK: 50, seed: provenance?.seed as number },
        );
        expect(persona.prefixes.persona).toBe(again.text.trim());
        expect(persona.prefixes.gold).toBe(`Gold persona of ${persona.name}: likes long answers.`);
        expect(file.provenance.generated.gold?.[persona.name]).toMatchObject({ model: 'openai:gpt-4-0613', temperature: 1, maxNewTokens: 12, shotIds: [] });
      }
    } finally {
      await engine.dispose();
    }
    const goldRequests = server.requests.filter((request) => JSON.stringify(request.body).includes('The person is '));
    expect(goldRequests).toHaveLength(4);
    expect(goldRequests[0]?.body).toMatchObject({
      model: 'gpt-4-0613',
      temperature: 1,
      max_tokens: 12,
      messages: [
        { role: 'system', content: ASSISTANT_SYSTEM_PROMPT },
        { role: 'user', content: goldPersonaPrompt({ name: 'Mara Quill' }) },
      ],
    });

    const prefixText = await readFile(join(out, 'prefixes.json'), 'utf8');
    const rowsText = await readFile(join(out, 'pairs.jsonl'), 'utf8');
    const requests = server.requests.length;
    const rerun = await runCli(args);
    expect(rerun.code).toBe(0);
    expect(await readFile(join(out, 'prefixes.json'), 'utf8')).toBe(prefixText);
    expect(await readFile(join(out, 'pairs.jsonl'), 'utf8')).toBe(rowsText);
    expect(server.requests.length).toBe(requests);

    // Asking for the authors' layout keeps the texts the run scored with, and says they were made with the paper's.
    const authors = await runCli([...args, '--persona-prompt', 'authors', '--persona-top-k', '0']);
    expect(authors.code).toBe(0);
    expect(authors.stderr.trim()).toBe(
      'warning: 4 reused persona text(s) were inferred with the paper’s G.5 (x, y_w), not the authors’ code (x, y_w, y_l): they are kept, as their provenance records; use a new --out to infer them again.',
    );
    expect(await readFile(join(out, 'prefixes.json'), 'utf8')).toBe(prefixText);
    const wrong = await runCli([...args, '--persona-prompt', 'code']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/--persona-prompt.*'code' is invalid.*paper, authors/);
  });

  it('eval generations: both orders judged with G.4, win rates and self-agreement recomputable; failed judge calls are rows, re-asked on resume', async () => {
    const out = join(dir, 'judged');
    const args = [
      'eval',
      'generations',
      '--dataset',
      bare,
      '--engine',
      `Z=local:${model}`,
      '--engine',
      `M=local:${model}`,
      '--prefixes',
      'none,persona-gpt4',
      '--persona-model',
      `openai:${server.baseUrl}#gpt-4-0613`,
      '--judge',
      `openai:${server.baseUrl}#gpt-4-0613`,
      '--questions-per-persona',
      '1',
      '--max-new-tokens',
      '16',
      '--judge-retries',
      '0',
      '--judge-concurrency',
      '1',
      '--out',
      out,
      '--quiet',
    ];
    judgeCalls = 0;
    failFirstJudgeCall = true;
    const first = await runCli(args);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(2);
    const contestants = ['Z/none', 'Z/persona-gpt4', 'M/none', 'M/persona-gpt4'];
    // 4 questions × 6 contestant pairs × 2 orders, 5 per call; the first call's 5 failed.
    let judgements = await readRows(join(out, 'judgements.jsonl'), JudgementRow);
    expect(judgements).toHaveLength(48);
    const failed = judgements.filter((row) => !row.ok);
    expect(failed).toHaveLength(5);
    for (const row of failed) if (!row.ok) expect(row).toMatchObject({ code: 'judge-unparsed', reason: 'expected 5 JSON verdict(s), found 4', raw: expect.stringContaining('Output (a) is better than Output (b)') });
    expect((await readSummary(out)).generations?.judgements).toEqual({ ok: 43, failed: 5, failedByCode: { 'judge-unparsed': 5 } });

    const generationsText = await readFile(join(out, 'generations.jsonl'), 'utf8');
    const resumed = await runCli(args);
    expect(resumed.code).toBe(0);
    expect(await readFile(join(out, 'generations.jsonl'), 'utf8')).toBe(generationsText);
    judgements = await readRows(join(out, 'judgements.jsonl'), JudgementRow);
    expect(judgements).toHaveLength(53);

    const generations = await readRows(join(out, 'generations.jsonl'), GenerationRow);
    expect(generations).toHaveLength(16);
    const text = new Map(generations.map((row) => [row.key, row.ok ? row.text : '']));
    const latest = new Map(judgements.map((row) => [row.key, row]));
    expect(latest.size).toBe(48);
    const wins = contestants.map(() => contestants.map(() => 0));
    const games = contestants.map(() => contestants.map(() => 0));
    let agreeing = 0;
    for (const row of latest.values()) {
      if (!row.ok) throw new Error(`${row.key} still failed`);
      // The rule the scripted judge applies, recomputed from the generation rows.
      const a = text.get(`${row.questionId}|${row.a}`) ?? '';
      const b = text.get(`${row.questionId}|${row.b}`) ?? '';
      const winner = a.length >= b.length ? row.a : row.b;
      expect(row.winner === 'a' ? row.a : row.b).toBe(winner);
      const [i, j] = [contestants.indexOf(row.a), contestants.indexOf(row.b)];
      games[i]![j]!++;
      games[j]![i]!++;
      const [w, l] = winner === row.a ? [i, j] : [j, i];
      wins[w]![l]!++;
      if (row.order === 1) {
        const swapped = latest.get(`${row.questionId}|${row.b}|${row.a}`);
        if (swapped?.ok && (swapped.winner === 'a' ? swapped.a : swapped.b) === winner) agreeing++;
      }
    }
    const summary = (await readSummary(out)).generations;
    expect(summary?.contestants).toEqual(contestants);
    expect(summary?.matrix.cells.map((row) => row.map((cell) => cell.wins))).toEqual(wins);
    expect(summary?.matrix.cells.map((row) => row.map((cell) => cell.games))).toEqual(games);
    expect(summary?.agreement).toEqual({ pairs: 24, agreeing, rate: agreeing / 24 });
    expect(summary?.judgements).toEqual({ ok: 48, failed: 0, failedByCode: {} });
    const markdown = await readFile(join(out, 'report.md'), 'utf8');
    expect(markdown).toContain('\n## Generations judged pairwise (Table 3)\n');
    expect(resumed.stdout).toMatch(/^row beats column \(%\)\s+Z\/none\s+Z\/persona-gpt4\s+M\/none\s+M\/persona-gpt4\s+avg$/m);

    // Every judge request is the G.4 chat at the judge settings; no call holds both orders of a pair.
    const judgeRequests = server.requests.filter((request) => JSON.stringify(request.body).includes('Preferred output in JSON format for example 3-'));
    expect(judgeRequests.length).toBe(judgeCalls);
    for (const request of judgeRequests) expect(request.body).toMatchObject({ model: 'gpt-4-0613', temperature: 1, max_tokens: 600 });
  });
});
