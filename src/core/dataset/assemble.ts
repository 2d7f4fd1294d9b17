/**
 * From stage records to the dataset: rows (a persona and a question), their bracket outcomes, y_w and
 * y_l, the train/test split, and our `PreferencePair` with the authors' columns and the provenance in
 * `meta`. Pure and order-independent: the same records give byte-identical pairs however the run that
 * produced them was scheduled, interrupted or resumed.
 */
import { PROMPTS_VERSION } from '../prompts.ts';
import type { PreferencePair } from '../schema.ts';
import { beatsKey, bracketLevelCount, bracketWinner, chooseLoser, levelMatches, pairwiseComparisons, type MatchOutcome } from './bracket.ts';
import type { BuildConfig } from './config.ts';
import { distributedRowId } from './distribute.ts';
import type { FilterRecord, MatchResult, PersonaRecord, Question, ResponsesRecord } from './records.ts';
import { membersOf } from './roster.ts';
import { rngFor } from './seeds.ts';
import { byId, splitRows, type SplittableRow } from './split.ts';

type Ok<T> = Extract<T, { ok: true }>;

/** A persona's copy of a question whose k diverse candidates are ready for judging. */
export interface JudgeRow extends SplittableRow {
  /** The k diverse candidates, by cluster label. */
  candidates: string[];
}

/** Every row to judge: personal questions as they are, divergent ones once per member of their axis. */
export function judgeRows(
  questions: readonly Question[],
  personas: readonly PersonaRecord[],
  responses: ReadonlyMap<string, Ok<ResponsesRecord>>,
  filters: ReadonlyMap<string, Ok<FilterRecord>>,
): JudgeRow[] {
  const rows: JudgeRow[] = [];
  for (const question of questions) {
    const response = responses.get(question.id);
    const filter = filters.get(question.id);
    if (!response || !filter) continue;
    const candidates = filter.diverse.map((index) => response.candidates[index]?.text ?? '');
    if (question.type === 'personal' && question.persona !== undefined) {
      rows.push({ id: question.id, persona: question.persona, type: 'personal', questionId: question.id, prompt: question.prompt, candidates });
    } else if (question.type === 'divergent' && question.axis !== undefined) {
      for (const { name } of membersOf(personas, question.axis)) {
        rows.push({ id: distributedRowId(question.id, name), persona: name, type: 'divergent', axis: question.axis, questionId: question.id, prompt: question.prompt, candidates });
      }
    }
  }
  return rows.sort(byId);
}

export function matchId(rowId: string, level: number, a: number, b: number): string {
  return `${rowId}#L${level}:${a}v${b}`;
}

/** The decided outcomes of a row so far (successful matches only). */
export function rowOutcomes(row: JudgeRow, k: number, results: ReadonlyMap<string, MatchResult>): { outcomes: MatchOutcome[]; failure?: Extract<MatchResult, { ok: false }> } {
  const outcomes: MatchOutcome[] = [];
  for (let level = 0; level < bracketLevelCount(k); level++) {
    for (const { a, b } of levelMatches(k, level, outcomes)) {
      const result = results.get(matchId(row.id, level, a, b));
      if (result === undefined) return { outcomes };
      if (!result.ok) return { outcomes, failure: result };
      outcomes.push({ level, a, b, winner: result.winner });
    }
  }
  return { outcomes };
}

export interface Provenance {
  dataset: string;
  promptsVersion: string;
  seed: number;
  /** Provider ids per role, e.g. "openai:gpt-4-0613". */
  models: Record<string, string>;
  configHash: string;
}

export function provenanceFor(config: BuildConfig, models: Record<string, string>, configHash: string): Provenance {
  return { dataset: config.name, promptsVersion: PROMPTS_VERSION, seed: config.seed, models, configHash };
}

export interface AssembleInput {
  config: BuildConfig;
  personas: readonly PersonaRecord[];
  questions: readonly Question[];
  responses: ReadonlyMap<string, Ok<ResponsesRecord>>;
  filters: ReadonlyMap<string, Ok<FilterRecord>>;
  matches: ReadonlyMap<string, MatchResult>;
  provenance: Provenance;
}

export interface Assembled {
  pairs: PreferencePair[];
  /** Rows judged but left out: a match failed (or never ran). */
  unlabeled: { rowId: string; error: string }[];
  /** Labelled rows the split did not keep (beyond the per-split sizes). */
  unused: number;
}

export function assemblePairs(input: AssembleInput): Assembled {
  const { config, personas, questions, responses, filters, matches, provenance } = input;
  const k = config.filter.k;
  const cvOf = new Map(personas.map((persona) => [persona.name, persona.cv]));
  const labelled: { row: JudgeRow; outcomes: MatchOutcome[] }[] = [];
  const unlabeled: Assembled['unlabeled'] = [];
  for (const row of judgeRows(questions, personas, responses, filters)) {
    const { outcomes, failure } = rowOutcomes(row, k, matches);
    if (outcomes.length === k - 1) labelled.push({ row, outcomes });
    else unlabeled.push({ rowId: row.id, error: failure ? failure.error : 'not judged' });
  }
  const splits = splitRows(
    labelled.map(({ row }) => ({ id: row.id, persona: row.persona, type: row.type, axis: row.axis, questionId: row.questionId, prompt: row.prompt })),
    config.split,
    config.seed,
  );
  const pairs: PreferencePair[] = [];
  for (const { row, outcomes } of labelled) {
    const split = splits.get(row.id);
    if (split === undefined) continue;
    const response = responses.get(row.questionId);
    const filter = filters.get(row.questionId);
    if (!response || !filter) continue;
    const winner = bracketWinner(k, outcomes);
    const loser = chooseLoser(k, winner, rngFor(config.seed, 'yl', row.id));
    const final = outcomes.find((outcome) => outcome.level === bracketLevelCount(k) - 1);
    const judged = outcomes.map((outcome) => {
      const result = matches.get(matchId(row.id, outcome.level, outcome.a, outcome.b));
      return result?.ok
        ? { level: outcome.level, a: outcome.a, b: outcome.b, swapped: result.swapped, winner: outcome.winner, explanation: result.explanation, attempt: result.attempt, raw: result.raw }
        : undefined;
    });
    const rawCompletions = Object.fromEntries(
      judged.flatMap((match) => (match ? [[beatsKey(match.winner, match.winner === match.a ? match.b : match.a), match.raw]] : [])),
    );
    pairs.push({
      id: row.id,
      persona: row.persona,
      ...(row.axis !== undefined && { axis: row.axis }),
      type: row.type,
      split,
      prompt: row.prompt,
      chosen: row.candidates[winner] as string,
      rejected: row.candidates[loser] as string,
      meta: {
        question_id: row.questionId,
        y_cot: response.cots,
        diverse_ys: row.candidates,
        random_ys: filter.random.map((index) => response.candidates[index]?.text ?? ''),
        y: final ? [row.candidates[final.a], row.candidates[final.b]] : [],
        pairwise_comparisons: pairwiseComparisons(k, outcomes),
        raw_completions: rawCompletions,
        yw_index: winner,
        yl_index: loser,
        judge: judged.map((match) => (match ? { level: match.level, a: match.a, b: match.b, swapped: match.swapped, winner: match.winner, explanation: match.explanation, attempt: match.attempt } : null)),
        reward_range: filter.rewardRange,
        ...(cvOf.has(row.persona) && { cv: cvOf.get(row.persona) }),
        provenance,
      },
    });
  }
  return { pairs: pairs.sort(comparePairs(personas)), unlabeled, unused: labelled.length - pairs.length };
}

/** Output order: persona (roster order), split (train first), personal before divergent, then id. */
export function comparePairs(personas: readonly PersonaRecord[]): (a: PreferencePair, b: PreferencePair) => number {
  const rank = new Map(personas.map((persona, index) => [persona.name, index]));
  const key = (pair: PreferencePair) => [rank.get(pair.persona ?? '') ?? Infinity, pair.split === 'train' ? 0 : 1, pair.type === 'personal' ? 0 : 1] as const;
  return (a, b) => {
    const [ka, kb] = [key(a), key(b)];
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return (ka[i] as number) - (kb[i] as number);
    return byId(a, b);
  };
}
