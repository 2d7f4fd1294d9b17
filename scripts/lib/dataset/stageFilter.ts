/**
 * Stage 3b–c: the generic-reward window (spec §2.7) and the k-means diversity filter (§2.8) per
 * question. Blank candidates are left out first (decision: an empty answer cannot be a y_w or y_l,
 * and our pair schema refuses empty answers; the authors kept them). Fewer than k usable candidates,
 * or fewer than k distinct embeddings, fail the question for good; a failed reward or embedding call
 * fails it for this run only.
 *
 * Output: stages/filter.jsonl, one record per question: rewards of the scored candidates, the
 * window, and the k chosen candidates (indices into the question's candidates, by cluster label).
 */
import { selectDiverse } from '../../../src/core/dataset/diversity.ts';
import { pyStrip } from '../../../src/core/dataset/pyString.ts';
import { FilterRecord, type Question, type ResponsesRecord } from '../../../src/core/dataset/records.ts';
import { selectRewardWindow } from '../../../src/core/dataset/rewardWindow.ts';
import { deriveSeed } from '../../../src/core/dataset/seeds.ts';
import { callFailure, runItems, stagePath, unlessCancelled, type StageContext } from './context.ts';
import { Journal } from './journal.ts';

type ResponsesOk = Extract<ResponsesRecord, { ok: true }>;

async function filterQuestion(context: StageContext, question: Question, responses: ResponsesOk): Promise<FilterRecord> {
  const { filter, seed } = context.config;
  const scored = responses.candidates.flatMap((candidate, index) => (pyStrip(candidate.text) === '' ? [] : [index]));
  if (scored.length < filter.k) {
    return { ok: false, key: question.id, error: `only ${scored.length} non-empty candidate(s); k-means needs k = ${filter.k}`, retryable: false };
  }
  const rewards = await context.roles.reward.score(
    scored.map((index) => ({ question: question.prompt, answer: responses.candidates[index]?.text ?? '' })),
    context.signal,
  );
  if (rewards.length !== scored.length) throw new Error(`The reward model returned ${rewards.length} rewards for ${scored.length} answers.`);
  const window = selectRewardWindow(rewards, filter.rewardWindow);
  const windowCandidates = window.indices.map((position) => scored[position] as number);
  const embeddings = await context.roles.embedder.embed(
    windowCandidates.map((index) => responses.candidates[index]?.text ?? ''),
    context.signal,
  );
  const diverse = selectDiverse(embeddings, { k: filter.k, nInit: filter.kmeansRestarts, maxIterations: filter.kmeansMaxIterations, seed: deriveSeed(seed, 'diversity', question.id) });
  if (!diverse.ok) return { ok: false, key: question.id, error: diverse.error, retryable: false };
  return {
    ok: true,
    key: question.id,
    scored,
    rewards,
    window: windowCandidates,
    rewardRange: window.range,
    diverse: diverse.indices.map((position) => windowCandidates[position] as number),
    random: diverse.randomIndices.map((position) => windowCandidates[position] as number),
  };
}

export async function filterStage(context: StageContext, questions: readonly Question[], responses: ReadonlyMap<string, ResponsesRecord>): Promise<Journal<FilterRecord>> {
  const journal = new Journal(stagePath(context, 'filter.jsonl'), FilterRecord);
  const ready = questions.filter((question) => responses.get(question.id)?.ok === true);
  try {
    await runItems(context, 'Reward window + k-means', ready, {
      concurrency: Math.max(context.roles.reward.concurrency, context.roles.embedder.concurrency) + 1,
      done: (question) => {
        const record = journal.latest.get(question.id);
        return record !== undefined && (record.ok || !record.retryable);
      },
      work: async (question) => {
        const record = responses.get(question.id);
        if (!record?.ok) return;
        try {
          journal.append(await filterQuestion(context, question, record));
        } catch (error) {
          journal.append(callFailure(question.id, unlessCancelled(error)));
        }
      },
    });
  } finally {
    await journal.close();
  }
  return journal;
}
