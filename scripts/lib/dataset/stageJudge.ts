/**
 * Stage 4: the judge's single-elimination bracket (spec §2.10) over every row (a persona's copy of
 * a question): level 0 is 0 vs 1 and 2 vs 3, level 1 the final between their winners.
 *
 * Batches: each level's matches in row-id order, cut into batches of `batchSize` (`LevelPlan`). The
 * cut depends only on decided outcomes, never on timing, so an interrupted and a resumed run form the
 * same batches, send the same requests, and the request cache answers those already made; batches
 * decided earlier are skipped. Final-level batches start as soon as the rows they cover are settled,
 * so the judge's slots stay busy across the level boundary. A batch's call is retried (new seed) for
 * the matches whose verdict could not be read, up to `maxAttempts` calls; matches still unread are
 * recorded as failures with the judge's raw reply, and their rows drop out of the bracket. A failed
 * call fails its matches for this run (retried by the next).
 *
 * Output: stages/judge.jsonl, one record per batch with each match's order, winner and verdict text.
 */
import { matchId, type JudgeRow } from '../../../src/core/dataset/assemble.ts';
import { bracketLevelCount, levelMatches, type MatchOutcome } from '../../../src/core/dataset/bracket.ts';
import { judgeBatchMessages, orderMatch, parseJudgeReply, unswap, type OrderedMatch } from '../../../src/core/dataset/judge.ts';
import { JudgeBatchRecord, type MatchResult } from '../../../src/core/dataset/records.ts';
import { deriveSeed } from '../../../src/core/dataset/seeds.ts';
import { stagePath, throwIfStopped, unlessCancelled, type StageContext } from './context.ts';
import { Journal } from './journal.ts';

interface Batch {
  key: string;
  level: number;
  matches: OrderedMatch[];
}

/** The decided result of every match (the latest record wins; a retryable failure counts as undecided). */
export function decidedMatches(journal: Journal<JudgeBatchRecord>): Map<string, MatchResult> {
  const results = new Map<string, MatchResult>();
  for (const record of journal.records) {
    for (const result of record.results) {
      if (result.ok || !result.retryable) results.set(result.matchId, result);
      else results.delete(result.matchId);
    }
  }
  return results;
}

type RowStatus = { status: 'alive'; outcomes: MatchOutcome[] } | { status: 'dead' } | { status: 'unknown' };

/**
 * Where a row stands before `level`: alive (every earlier match won by someone), dead (a match failed
 * for good, or failed on a call in this run), or unknown (a match not decided yet).
 */
function rowStatus(row: JudgeRow, level: number, k: number, decided: ReadonlyMap<string, MatchResult>, failedNow: ReadonlySet<string>): RowStatus {
  const outcomes: MatchOutcome[] = [];
  for (let earlier = 0; earlier < level; earlier++) {
    for (const { a, b } of levelMatches(k, earlier, outcomes)) {
      const id = matchId(row.id, earlier, a, b);
      const result = decided.get(id);
      if (result?.ok) outcomes.push({ level: earlier, a, b, winner: result.winner });
      else if (result || failedNow.has(id)) return { status: 'dead' };
      else return { status: 'unknown' };
    }
  }
  return { status: 'alive', outcomes };
}

/**
 * One bracket level's matches in row order, grown as earlier levels get decided, and cut into
 * batches of `batchSize`: batch c is matches [c·size, (c+1)·size) of the level's full list. A batch
 * can be formed once the rows up to its end are settled (every row before has its alive/dead status
 * known), so its content never depends on timing, and later levels start while earlier ones finish.
 */
class LevelPlan {
  private cursor = 0;
  readonly matches: OrderedMatch[] = [];
  nextBatch = 0;

  constructor(
    readonly level: number,
    private readonly rows: readonly JudgeRow[],
    private readonly context: StageContext,
  ) {}

  get complete(): boolean {
    return this.cursor === this.rows.length;
  }

  /** Settles as many further rows as the decided matches allow. */
  advance(decided: ReadonlyMap<string, MatchResult>, failedNow: ReadonlySet<string>): void {
    const { filter, seed } = this.context.config;
    while (this.cursor < this.rows.length) {
      const row = this.rows[this.cursor] as JudgeRow;
      const status = rowStatus(row, this.level, filter.k, decided, failedNow);
      if (status.status === 'unknown') return;
      if (status.status === 'alive') {
        for (const { a, b } of levelMatches(filter.k, this.level, status.outcomes)) {
          this.matches.push(orderMatch({ rowId: row.id, persona: row.persona, question: row.prompt, level: this.level, a, b, textA: row.candidates[a] ?? '', textB: row.candidates[b] ?? '' }, seed));
        }
      }
      this.cursor++;
    }
  }

  /** The next batch in order, if it can be formed yet. */
  peek(): Batch | undefined {
    const size = this.context.config.judge.batchSize;
    const from = this.nextBatch * size;
    const formed = from + size <= this.matches.length || (this.complete && from < this.matches.length);
    if (!formed) return undefined;
    const matches = this.matches.slice(from, from + size);
    const first = matches[0] as OrderedMatch;
    return { key: `L${this.level}:${matchId(first.rowId, this.level, first.a, first.b)}+${matches.length}`, level: this.level, matches };
  }
}

async function judgeBatch(context: StageContext, batch: Batch): Promise<JudgeBatchRecord> {
  const { judge, seed } = context.config;
  const results: MatchResult[] = [];
  let remaining = batch.matches;
  let calls = 0;
  let lastReply = '';
  let lastError = '';
  const base = (match: OrderedMatch) => ({ matchId: matchId(match.rowId, match.level, match.a, match.b), rowId: match.rowId, level: match.level, a: match.a, b: match.b, swapped: match.swapped });
  for (let attempt = 1; attempt <= judge.maxAttempts && remaining.length > 0; attempt++) {
    let reply: string;
    try {
      const response = await context.roles.judge.chat(
        { messages: judgeBatchMessages(remaining), temperature: judge.temperature, maxTokens: judge.maxTokens, seed: deriveSeed(seed, 'judge', batch.key, attempt) },
        context.signal,
      );
      calls++;
      reply = response.texts[0] ?? '';
    } catch (error) {
      const failure = unlessCancelled(error);
      const message = failure instanceof Error ? failure.message : String(failure);
      return { key: batch.key, level: batch.level, calls, results: [...results, ...remaining.map((match) => ({ ok: false as const, ...base(match), error: message, retryable: true }))] };
    }
    lastReply = reply;
    const parsed = parseJudgeReply(reply, remaining.length);
    if (!parsed.ok) {
      lastError = parsed.error;
      continue;
    }
    const unread: OrderedMatch[] = [];
    remaining.forEach((match, index) => {
      const verdict = parsed.verdicts[index];
      if (!verdict?.ok) {
        unread.push(match);
        lastError = verdict ? `example ${index + 1}: ${verdict.error}` : 'missing verdict';
        return;
      }
      results.push({ ok: true, ...base(match), winner: unswap(match, verdict.outputAIsBetter).winner, explanation: verdict.explanation, raw: verdict.raw, attempt });
    });
    remaining = unread;
  }
  for (const match of remaining) {
    results.push({ ok: false, ...base(match), error: `unreadable verdict after ${judge.maxAttempts} call(s): ${lastError}`, retryable: false, raw: lastReply });
  }
  return { key: batch.key, level: batch.level, calls, results };
}

export async function judgeStage(context: StageContext, rows: readonly JudgeRow[]): Promise<Journal<JudgeBatchRecord>> {
  const journal = new Journal(stagePath(context, 'judge.jsonl'), JudgeBatchRecord);
  const { filter, judge } = context.config;
  const levels = Array.from({ length: bracketLevelCount(filter.k) }, (_, level) => new LevelPlan(level, rows, context));
  const decided = decidedMatches(journal);
  const failedNow = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const id = (match: OrderedMatch) => matchId(match.rowId, match.level, match.a, match.b);
  // Batches if every row survives every level; decided ones are ticked off as found.
  const total = levels.reduce((sum, plan) => sum + Math.ceil((rows.length * (filter.k / 2 ** (plan.level + 1))) / judge.batchSize), 0);
  let done = 0;
  let firstError: unknown;
  context.reporter.start('Judge (G.4)', total);

  /** Starts every batch that can be formed, lower levels first, while slots are free. */
  const schedule = () => {
    for (const plan of levels) {
      plan.advance(decided, failedNow);
      for (let batch = plan.peek(); batch && running.size < context.roles.judge.concurrency; batch = plan.peek()) {
        plan.nextBatch++;
        const undecided = batch.matches.filter((match) => !decided.has(id(match)) && !failedNow.has(id(match)));
        if (undecided.length === 0) {
          done++;
          continue;
        }
        const key = batch.key;
        running.set(
          key,
          judgeBatch(context, { ...batch, matches: undecided })
            .then((record) => {
              journal.append(record);
              for (const result of record.results) {
                if (result.ok || !result.retryable) decided.set(result.matchId, result);
                else failedNow.add(result.matchId);
              }
              done++;
              context.reporter.tick(Math.min(done, total));
            })
            .catch((error: unknown) => {
              firstError ??= error;
            })
            .finally(() => running.delete(key)),
        );
      }
    }
  };

  try {
    schedule();
    context.reporter.tick(Math.min(done, total));
    while (running.size > 0) {
      await Promise.race(running.values());
      if (!context.signal.aborted && firstError === undefined) schedule();
    }
  } finally {
    context.reporter.stop();
    await journal.close();
  }
  if (firstError !== undefined) throw firstError;
  throwIfStopped(context.signal);
  return journal;
}
