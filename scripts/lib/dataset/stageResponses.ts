/**
 * Stage 3a: candidate answers from the baseline model (spec §2.5). Per personal question: CoT
 * samples until each of the `cotsPerQuestion` slots holds a usable CoT (at most `maxCotAttempts`
 * samples per slot), then `answersPerCot − 1` more answers per CoT; per divergent question, gold CoTs
 * and `answersPerCot` answers each. Every call's seed is derived from (question, slot, attempt) or
 * (question, CoT, answer), so a resumed run sends the very requests the interrupted one sent, which
 * the request cache answers.
 *
 * Output: stages/responses.jsonl, one record per question. A slot without a usable CoT after every
 * attempt fails the question for good (the raw last sample is kept); a failed call fails it for
 * this run (retried by the next).
 */
import { chooseCategory, goldCot, isUsableCot, phaseOneMessages, phaseTwoCallsPerCot, phaseTwoMessages, type Candidate } from '../../../src/core/dataset/cot.ts';
import { extractCotAndResponse } from '../../../src/core/dataset/cleanup.ts';
import { ResponsesRecord, type PersonaRecord, type Question } from '../../../src/core/dataset/records.ts';
import { membersOf } from '../../../src/core/dataset/roster.ts';
import { deriveSeed, rngFor } from '../../../src/core/dataset/seeds.ts';
import type { ChatMessage } from '../../../src/core/chat.ts';
import { callFailure, runItems, stagePath, unlessCancelled, type StageContext } from './context.ts';
import { Journal } from './journal.ts';

class UnusableCot extends Error {
  constructor(
    message: string,
    readonly raw: string,
  ) {
    super(message);
  }
}

async function sample(context: StageContext, messages: ChatMessage[], seed: number): Promise<string> {
  const { responses } = context.config;
  const response = await context.roles.baseline.chat({ messages, temperature: responses.temperature, topP: responses.topP, topK: responses.topK, maxTokens: responses.maxTokens, seed }, context.signal);
  return response.texts[0] ?? '';
}

async function candidatesFor(context: StageContext, question: Question, personas: readonly PersonaRecord[]): Promise<{ cots: string[]; candidates: Candidate[]; cotSamples: number }> {
  const { responses, seed } = context.config;
  const candidates: Candidate[] = [];
  let cots: string[];
  let cotSamples = 0;
  const sampled = question.type === 'personal' && responses.personalCots === 'sampled';
  if (sampled) {
    const slots = await Promise.all(
      Array.from({ length: responses.cotsPerQuestion }, async (_, slot) => {
        let last = '';
        for (let attempt = 0; attempt < responses.maxCotAttempts; attempt++) {
          last = await sample(context, phaseOneMessages(question.prompt, responses.cotAxisList), deriveSeed(seed, 'cot', question.id, slot, attempt));
          cotSamples++;
          const parsed = extractCotAndResponse(last);
          if (isUsableCot(parsed.cot)) return parsed;
        }
        throw new UnusableCot(`CoT slot ${slot}: no usable CoT (an "Axis/Categories" block before "Chosen category:") in ${responses.maxCotAttempts} samples`, last);
      }),
    );
    cots = slots.map((slot) => slot.cot);
    slots.forEach((slot, cot) => candidates.push({ text: slot.response, cot, phase: 1 }));
  } else {
    cots = Array.from({ length: responses.cotsPerQuestion }, (_, slot) => {
      // Personal gold CoTs pick one of the asker's axes per slot (the authors' np.random.choice).
      const memberships = personas.find((persona) => persona.name === question.persona)?.memberships ?? [];
      const axis = question.type === 'divergent' ? (question.axis ?? '') : (memberships[rngFor(seed, 'gold-axis', question.id, slot).int(0, Math.max(0, memberships.length - 1))]?.axis ?? '');
      return goldCot(axis, membersOf(personas, axis).map((member) => member.category));
    });
  }
  const perCot = phaseTwoCallsPerCot(sampled ? 'sampled' : 'gold', responses.answersPerCot);
  const phaseTwo = await Promise.all(
    cots.flatMap((cot, cotIndex) =>
      Array.from({ length: perCot }, async (_, answer) => {
        const category = chooseCategory(cot, rngFor(seed, 'category', question.id, cotIndex, answer));
        const raw = await sample(context, phaseTwoMessages(question.prompt, cot, category, responses.cotAxisList), deriveSeed(seed, 'answer', question.id, cotIndex, answer));
        // The CoT parsed from a phase-2 generation is discarded, as the authors did.
        return { text: extractCotAndResponse(raw).response, cot: cotIndex, phase: 2 as const, category };
      }),
    ),
  );
  candidates.push(...phaseTwo);
  return { cots, candidates, cotSamples };
}

export async function responsesStage(context: StageContext, questions: readonly Question[], personas: readonly PersonaRecord[]): Promise<Journal<ResponsesRecord>> {
  const journal = new Journal(stagePath(context, 'responses.jsonl'), ResponsesRecord);
  try {
    await runItems(context, 'Answers (baseline, G.3)', questions, {
      // One more question than calls in flight keeps the role busy while a question moves to phase 2.
      concurrency: context.roles.baseline.concurrency + 1,
      done: (question) => {
        const record = journal.latest.get(question.id);
        return record !== undefined && (record.ok || !record.retryable);
      },
      work: async (question) => {
        try {
          journal.append({ ok: true, key: question.id, ...(await candidatesFor(context, question, personas)) });
        } catch (error) {
          if (error instanceof UnusableCot) journal.append({ ok: false, key: question.id, error: error.message, retryable: false, raw: error.raw });
          else journal.append(callFailure(question.id, unlessCancelled(error)));
        }
      },
    });
  } finally {
    await journal.close();
  }
  return journal;
}
