/**
 * `eval generations`: each contestant (an engine with a prefix strategy) answers each selected
 * question (temperature 1, 512 new tokens, App. N), then a judge model compares every pair of
 * contestants on every question with the G.4 prompt, in both answer orders, up to 5 comparisons
 * per call. Rows are appended (fsynced) as they finish, so a killed run resumes: finished
 * generations are not regenerated and finished judgements not re-asked.
 *
 * Failures handled: a failed generation is a row; the comparisons that needed it become rows
 * with code `missing-generation`. A judge call that fails after the provider's retries, or a reply
 * whose verdicts cannot be attributed (wrong count, no boolean), is asked again up to
 * `judgeRetries` times in a new batch, then recorded with its code, reason and raw reply (and
 * asked again when the run is resumed); never replaced by a coin flip as in the authors' pipeline.
 */
import pLimit from 'p-limit';
import type { Engine } from '../../../src/core/engine.ts';
import { AppError, isAbortError, toSerializedError } from '../../../src/core/errors.ts';
import { judgeBatchMessages, parseJudgeReply, type OrderedMatch } from '../../../src/core/dataset/judge.ts';
import { deriveSeed } from '../../../src/core/dataset/seeds.ts';
import { judgeBatches, judgeTasks, type Contestant, type JudgeQuestion, type JudgeTask } from '../../../src/core/eval/generations.ts';
import { evalPrefixSpec, type PersonaMaterial } from '../../../src/core/eval/prefixes.ts';
import { generationKey, latestByKey, type GenerationRow, type JudgementRow } from '../../../src/core/eval/rows.ts';
import { applyPrefix } from '../../../src/core/prefixes.ts';
import type { Reporter } from '../reporter.ts';
import type { ChatRoleProvider } from './chatRoles.ts';
import type { JsonlAppender } from '../durableFiles.ts';

const MISSING_GENERATION = 'missing-generation';

export interface GenerationSettings {
  maxNewTokens: number;
  temperature: number;
  judgeTemperature: number;
  judgeMaxTokens: number;
  judgeConcurrency: number;
  /** Extra attempts for a comparison whose call or verdict failed. */
  judgeRetries: number;
  seed: number;
}

export interface GenerationsRunInput {
  contestants: readonly Contestant[];
  engines: ReadonlyMap<string, Engine>;
  material: ReadonlyMap<string, PersonaMaterial>;
  shuffle?: Readonly<Record<string, string>>;
  questions: readonly JudgeQuestion[];
  judge: ChatRoleProvider;
  settings: GenerationSettings;
  previous: { generations: readonly GenerationRow[]; judgements: readonly JudgementRow[] };
  generationRows: JsonlAppender;
  judgementRows: JsonlAppender;
  session: string;
  reporter: Reporter;
  signal?: AbortSignal;
}

export interface GenerationsRunResult {
  generated: number;
  judged: number;
  failed: number;
}

export async function runGenerations(input: GenerationsRunInput): Promise<GenerationsRunResult> {
  const { contestants, questions, settings, reporter } = input;
  const texts = new Map<string, string>();
  for (const row of latestByKey(input.previous.generations)) if (row.ok) texts.set(row.key, row.text);
  const doneGenerations = new Set(latestByKey(input.previous.generations).map((row) => row.key));
  let failed = 0;

  const pending = questions.flatMap((question) => contestants.map((contestant) => ({ question, contestant }))).filter(({ question, contestant }) => !doneGenerations.has(generationKey(question.questionId, contestant.label)));
  reporter.start('Generating answers', pending.length);
  let generated = 0;
  try {
    for (const { question, contestant } of pending) {
      const row = await generateOne(question, contestant, input);
      await input.generationRows.append(row);
      if (row.ok) texts.set(row.key, row.text);
      else {
        failed++;
        reporter.warn(`generation ${row.key}: ${row.reason}`);
      }
      reporter.tick(++generated);
    }
  } finally {
    reporter.stop();
  }

  // A failed judgement is asked again on a resumed run (judge failures are mostly transient); one
  // that failed for want of a generation is not, since that generation is not redone.
  const doneJudgements = new Set(
    latestByKey(input.previous.judgements)
      .filter((row) => row.ok || row.code === MISSING_GENERATION)
      .map((row) => row.key),
  );
  const labels = contestants.map((contestant) => contestant.label);
  const tasks = judgeTasks(questions, labels).filter((task) => !doneJudgements.has(task.key));
  const answerOf = (task: JudgeTask, label: string) => texts.get(generationKey(task.questionId, label));
  const judgeable = tasks.filter((task) => answerOf(task, task.a) !== undefined && answerOf(task, task.b) !== undefined);
  const askable = new Set(judgeable);
  for (const task of tasks) {
    if (askable.has(task)) continue;
    const missing = [task.a, task.b].filter((label) => answerOf(task, label) === undefined);
    await input.judgementRows.append(judgementFailure(task, input, MISSING_GENERATION, `no answer from ${missing.join(' and ')} (its generation failed)`));
    failed++;
  }

  let judged = 0;
  let toAsk = judgeable;
  reporter.start('Judging', judgeable.length);
  try {
    for (let attempt = 0; attempt <= settings.judgeRetries && toAsk.length > 0; attempt++) {
      const last = attempt === settings.judgeRetries;
      const retry: JudgeTask[] = [];
      const limit = pLimit(settings.judgeConcurrency);
      await Promise.all(
        judgeBatches(toAsk, deriveSeed(settings.seed, 'judge-attempt', attempt)).map((batch) =>
          limit(async () => {
            for (const outcome of await judgeBatch(batch, answerOf, input, attempt)) {
              if (outcome.ok || last) {
                await input.judgementRows.append(outcome);
                if (outcome.ok) judged++;
                else failed++;
                reporter.tick(judged + failed);
              } else retry.push(batch.find((task) => task.key === outcome.key) as JudgeTask);
            }
          }),
        ),
      );
      toAsk = retry;
    }
  } finally {
    reporter.stop();
  }
  return { generated, judged, failed };
}

async function generateOne(question: JudgeQuestion, contestant: Contestant, input: GenerationsRunInput): Promise<GenerationRow> {
  const key = generationKey(question.questionId, contestant.label);
  const base = { key, persona: question.persona, questionId: question.questionId, contestant: contestant.label, engine: contestant.engine, prefix: contestant.prefix, session: input.session };
  const seed = deriveSeed(input.settings.seed, 'generation', question.questionId, contestant.label);
  try {
    const { spec } = evalPrefixSpec(contestant.prefix, question.persona, input.material, input.shuffle);
    const engine = input.engines.get(contestant.engine);
    if (!engine) throw new AppError('internal', `No engine labelled ${contestant.engine}.`);
    const result = await engine.generate(
      [{ role: 'user', content: applyPrefix(spec, question.question) }],
      { maxNewTokens: input.settings.maxNewTokens, temperature: input.settings.temperature, topP: 1, seed },
      undefined,
      input.signal,
    );
    if (result.finishReason === 'aborted') throw new AppError('aborted', 'Cancelled.');
    return { ...base, ok: true, text: result.text, finishReason: result.finishReason, promptTokens: result.promptTokenCount, completionTokens: result.tokenIds.length, seed };
  } catch (error) {
    if (isAbortError(error)) throw error;
    const { code, message } = toSerializedError(error);
    return { ...base, ok: false, code, reason: message };
  }
}

/** The fields every judgement row carries, decided or failed (in the order they are written). */
function judgementBase(task: JudgeTask, input: GenerationsRunInput) {
  return { key: task.key, persona: task.persona, questionId: task.questionId, a: task.a, b: task.b, order: task.order, judge: input.judge.id, session: input.session };
}

function judgementFailure(task: JudgeTask, input: GenerationsRunInput, code: string, reason: string, raw?: string): JudgementRow {
  return { ok: false, ...judgementBase(task, input), code, reason, ...(raw === undefined ? {} : { raw }) };
}

/** One G.4 call for up to 5 comparisons: a row per comparison, decided or failed. */
async function judgeBatch(
  batch: readonly JudgeTask[],
  answerOf: (task: JudgeTask, label: string) => string | undefined,
  input: GenerationsRunInput,
  attempt: number,
): Promise<JudgementRow[]> {
  // Each order is its own task, so matches are shown as given (never swapped again here).
  const matches: OrderedMatch[] = batch.map((task, index) => ({
    rowId: task.questionId,
    persona: task.persona,
    question: task.question,
    level: 0,
    a: 2 * index,
    b: 2 * index + 1,
    textA: answerOf(task, task.a) as string,
    textB: answerOf(task, task.b) as string,
    swapped: false,
  }));
  let reply: string;
  try {
    const response = await input.judge.chat(
      {
        messages: judgeBatchMessages(matches),
        temperature: input.settings.judgeTemperature,
        maxTokens: input.settings.judgeMaxTokens,
        seed: deriveSeed(input.settings.seed, 'judge-call', attempt, ...batch.map((task) => task.key)),
      },
      input.signal,
    );
    reply = response.texts[0] ?? '';
  } catch (error) {
    if (isAbortError(error)) throw error;
    const { code, message } = toSerializedError(error);
    return batch.map((task) => judgementFailure(task, input, code === 'internal' ? 'judge-call-failed' : code, message));
  }
  const parsed = parseJudgeReply(reply, batch.length);
  if (!parsed.ok) return batch.map((task) => judgementFailure(task, input, 'judge-unparsed', parsed.error, reply));
  return batch.map((task, index): JudgementRow => {
    const verdict = parsed.verdicts[index];
    if (!verdict?.ok) return judgementFailure(task, input, 'judge-unparsed', verdict?.error ?? 'no verdict', reply);
    return { ok: true, ...judgementBase(task, input), winner: verdict.outputAIsBetter ? 'a' : 'b', explanation: verdict.explanation };
  });
}
