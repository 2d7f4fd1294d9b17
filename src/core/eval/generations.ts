/**
 * Personalized vs unprefixed generations judged pairwise (the paper's Table 3, App. N): which
 * questions are asked, which contestant pairs are judged in which order, how judge calls are
 * batched, and the win-rate matrix with the judge's self-agreement across answer orders,
 * recomputed from the generation and judgement rows.
 *
 * Every pair of contestants is judged on every question in BOTH orders (each contestant once as
 * Output (a)), so position bias cancels in the win rates and shows up in the agreement rate,
 * instead of being hidden by one random order per pair as in AlpacaEval. A pair's two orders go
 * to different judge calls, so the judge never sees the same two answers twice in one prompt.
 */
import type { PreferencePair } from '../schema.ts';
import { JUDGE_MAX_EXAMPLES } from '../prompts.ts';
import { sampleWithoutReplacement, shuffled } from '../random.ts';
import { rngFor } from '../dataset/seeds.ts';
import { orderAgreement, winRateMatrix, type BothOrders, type Judgement, type OrderAgreement, type WinRateMatrix } from '../stats.ts';
import type { EvalPrefix } from './prefixes.ts';
import { judgementKey, latestByKey, type GenerationRow, type JudgementRow } from './rows.ts';

/** A model with a prefix strategy, e.g. "Z-persona-gpt4" (the paper's Z-T). */
export interface Contestant {
  label: string;
  /** The engine's label on the command line. */
  engine: string;
  prefix: EvalPrefix;
}

export interface JudgeQuestion {
  /** The id of the (first) test pair asking it. */
  questionId: string;
  persona: string;
  question: string;
}

/**
 * `perPersona` distinct test questions per persona (all when fewer), drawn with a seed derived per
 * persona so adding personas never changes another's questions. `type` narrows the pool.
 */
export function selectQuestions(
  pairs: readonly PreferencePair[],
  options: { perPersona: number; seed: number; type?: 'personal' | 'divergent' },
): JudgeQuestion[] {
  const byPersona = new Map<string, JudgeQuestion[]>();
  for (const pair of pairs) {
    if (pair.persona === undefined || (options.type !== undefined && pair.type !== options.type)) continue;
    const questions = byPersona.get(pair.persona) ?? [];
    byPersona.set(pair.persona, questions);
    if (!questions.some((question) => question.question === pair.prompt)) {
      questions.push({ questionId: pair.id, persona: pair.persona, question: pair.prompt });
    }
  }
  return [...byPersona].flatMap(([persona, questions]) =>
    sampleWithoutReplacement(questions, options.perPersona, rngFor(options.seed, 'generation-questions', persona)),
  );
}

export interface JudgeTask extends JudgeQuestion {
  key: string;
  /** Contestant labels shown as Output (a) and Output (b). */
  a: string;
  b: string;
  order: 1 | 2;
}

/** Both orders of every contestant pair on every question. */
export function judgeTasks(questions: readonly JudgeQuestion[], contestants: readonly string[]): JudgeTask[] {
  return questions.flatMap((question) =>
    contestants.flatMap((first, i) =>
      contestants.slice(i + 1).flatMap((second): JudgeTask[] => [
        { ...question, key: judgementKey(question.questionId, first, second), a: first, b: second, order: 1 },
        { ...question, key: judgementKey(question.questionId, second, first), a: second, b: first, order: 2 },
      ]),
    ),
  );
}

/**
 * Judge calls of up to `size` tasks (G.4 takes 5): first-order tasks in a seeded random order,
 * then second-order tasks likewise, so no call holds both orders of one pair.
 */
export function judgeBatches(tasks: readonly JudgeTask[], seed: number, size = JUDGE_MAX_EXAMPLES): JudgeTask[][] {
  if (!Number.isInteger(size) || size < 1 || size > JUDGE_MAX_EXAMPLES) throw new RangeError(`judgeBatches: size must be 1 to ${JUDGE_MAX_EXAMPLES}, got ${size}.`);
  return ([1, 2] as const).flatMap((order) => {
    const ofOrder = shuffled(
      tasks.filter((task) => task.order === order),
      rngFor(seed, 'judge-batches', order),
    );
    const batches: JudgeTask[][] = [];
    for (let start = 0; start < ofOrder.length; start += size) batches.push(ofOrder.slice(start, start + size));
    return batches;
  });
}

export interface FailureCounts {
  ok: number;
  failed: number;
  failedByCode: Record<string, number>;
}

export interface GenerationsSummary {
  contestants: string[];
  questions: number;
  generations: FailureCounts;
  judgements: FailureCounts;
  /** Row beats column over every decided judgement, both orders pooled (Table 3). */
  matrix: WinRateMatrix;
  /** Pairs whose two orders were both decided, and how often they named the same winner. */
  agreement: OrderAgreement;
  /** How often Output (a) won: 0.5 for a judge without position bias. */
  firstPositionWinRate: number;
  failures: { kind: 'generation' | 'judgement'; key: string; code: string; reason: string }[];
}

function counts(rows: readonly { ok: boolean; code?: string }[]): FailureCounts {
  const failedByCode: Record<string, number> = {};
  for (const row of rows) if (!row.ok) failedByCode[row.code ?? 'internal'] = (failedByCode[row.code ?? 'internal'] ?? 0) + 1;
  const failed = rows.filter((row) => !row.ok).length;
  return { ok: rows.length - failed, failed, failedByCode };
}

export function summarizeGenerations(
  generationRows: readonly GenerationRow[],
  judgementRows: readonly JudgementRow[],
  contestants: readonly string[],
): GenerationsSummary {
  const generations = latestByKey(generationRows);
  const judgements = latestByKey(judgementRows);
  const decided = judgements.flatMap((row): (Judgement & { questionId: string; order: 1 | 2 })[] =>
    row.ok ? [{ a: row.a, b: row.b, winner: row.winner, questionId: row.questionId, order: row.order }] : [],
  );
  const byKey = new Map(decided.map((judgement) => [judgementKey(judgement.questionId, judgement.a, judgement.b), judgement]));
  const bothOrders = decided.flatMap((first): BothOrders[] => {
    if (first.order !== 1) return [];
    const second = byKey.get(judgementKey(first.questionId, first.b, first.a));
    return second ? [{ firstOrder: first, secondOrder: second }] : [];
  });
  return {
    contestants: [...contestants],
    questions: new Set(generations.map((row) => row.questionId)).size,
    generations: counts(generations),
    judgements: counts(judgements),
    matrix: winRateMatrix(decided, contestants),
    agreement: orderAgreement(bothOrders),
    firstPositionWinRate: decided.length === 0 ? NaN : decided.filter((judgement) => judgement.winner === 'a').length / decided.length,
    failures: [
      ...generations.flatMap((row) => (row.ok ? [] : [{ kind: 'generation' as const, key: row.key, code: row.code, reason: row.reason }])),
      ...judgements.flatMap((row) => (row.ok ? [] : [{ kind: 'judgement' as const, key: row.key, code: row.code, reason: row.reason }])),
    ],
  };
}
