/**
 * Stages 1 and 2: the people (roster, config list, or G.1 per axis with the generator) and their
 * questions (G.2: personal per persona, divergent per axis).
 *
 * Outputs: stages/persona-selection.jsonl (G.1 replies, generate only), stages/personas.json,
 * stages/questions.jsonl (one record per persona or axis), stages/questions.json (every question
 * with its id). A question set's calls are numbered and seeded by number, so the k-th call of a set
 * is the same request in every run (the request cache answers it on resume); its first
 * ⌈wanted / perCall⌉ calls run in parallel, and up to `maxExtraCalls` more follow one by one while
 * parsing and dedup leave fewer questions than wanted.
 */
import { personCategoryLabel, ASSISTANT_SYSTEM_PROMPT, divergentQuestionsPrompt, personaSelectionPrompt, personalQuestionsPrompt } from '../../../src/core/prompts.ts';
import { shuffled } from '../../../src/core/random.ts';
import { configuredPersonas, generatedPersonas } from '../../../src/core/dataset/people.ts';
import { dedupQuestions, divergentQuestionId, parseQuestions, personalQuestionId, slug } from '../../../src/core/dataset/questions.ts';
import {
  PersonaSelectionRecord,
  PersonasFile,
  Question,
  QuestionSetRecord,
  type PersonaRecord,
} from '../../../src/core/dataset/records.ts';
import { axesOf, axisLabels, membersOf } from '../../../src/core/dataset/roster.ts';
import { deriveSeed, rngFor } from '../../../src/core/dataset/seeds.ts';
import { AppError } from '../../../src/core/errors.ts';
import { countOf } from '../../../src/core/words.ts';
import { z } from 'zod';
import { callFailure, groupFailures, runItems, stagePath, unlessCancelled, type StageContext } from './context.ts';
import { readJsonFile, writeFileAtomic } from '../durableFiles.ts';
import { Journal, REBUILD_STAGE } from './journal.ts';

const QuestionsFile = z.object({ questions: z.array(Question) });

function generatorRequest(context: StageContext, prompt: string, seed: number) {
  const { questions } = context.config;
  return {
    messages: [
      { role: 'system' as const, content: ASSISTANT_SYSTEM_PROMPT },
      { role: 'user' as const, content: prompt },
    ],
    temperature: questions.temperature,
    topP: questions.topP,
    maxTokens: questions.maxTokens,
    seed,
  };
}

function failureReason(record: { ok: true } | { ok: false; error: string } | undefined): string {
  return record && !record.ok ? record.error : 'not run';
}

/** The build's people, from stages/personas.json when an earlier run made it. */
export async function personasStage(context: StageContext): Promise<PersonaRecord[]> {
  const path = stagePath(context, 'personas.json');
  const existing = readJsonFile(path, PersonasFile, REBUILD_STAGE);
  if (existing) return existing.personas;
  const { config } = context;
  let file: PersonasFile;
  const configured = configuredPersonas(config);
  if (configured) {
    file = { source: config.personas.source as 'roster' | 'list', personas: configured, unusableReplies: [] };
  } else {
    if (config.personas.source !== 'generate') throw new AppError('internal', 'Unreachable persona source.');
    const journal = new Journal(stagePath(context, 'persona-selection.jsonl'), PersonaSelectionRecord);
    try {
      const axes = config.personas.axes;
      await runItems(context, 'Personas (G.1)', axes, {
        concurrency: context.roles.generator.concurrency,
        done: (axis) => journal.latest.get(axis)?.ok === true,
        work: async (axis) => {
          try {
            const response = await context.roles.generator.chat(generatorRequest(context, personaSelectionPrompt({ axis }), deriveSeed(config.seed, 'g1', axis)), context.signal);
            journal.append({ ok: true, key: axis, axis, reply: response.texts[0] ?? '' });
          } catch (error) {
            journal.append(callFailure(axis, unlessCancelled(error)));
          }
        },
      });
      const failed = axes.filter((axis) => journal.latest.get(axis)?.ok !== true);
      if (failed.length > 0) {
        const reasons = groupFailures(failed.map((axis) => ({ key: axis, reason: failureReason(journal.latest.get(axis)) })));
        throw new AppError('invalid-input', `Persona generation (G.1) failed for ${countOf(failed.length, 'axis', 'axes')}, so the people are not known yet. ${reasons}. Run the same command again to retry.`);
      }
      const replies = axes.map((axis) => {
        const record = journal.latest.get(axis);
        return { axis, reply: record?.ok ? record.reply : '' };
      });
      const generated = generatedPersonas(config, replies);
      if (generated.personas.length === 0) throw new AppError('invalid-input', 'No persona could be read from the G.1 replies (see stages/persona-selection.jsonl): use personas.source "roster" or "list".');
      file = { source: 'generate', personas: generated.personas, unusableReplies: generated.unusable };
    } finally {
      await journal.close();
    }
  }
  const slugs = new Map<string, string>();
  for (const persona of file.personas) {
    const other = slugs.get(slug(persona.name));
    if (other !== undefined) throw new AppError('invalid-input', `"${persona.name}" and "${other}" give the same id "${slug(persona.name)}": rename one.`);
    slugs.set(slug(persona.name), persona.name);
  }
  writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`);
  return file.personas;
}

interface QuestionSet {
  key: string;
  wanted: number;
  prompt: string;
  /** Divergent sets are shuffled before the first `wanted` are kept (the authors' np.random.shuffle). */
  shuffleSeed?: number;
}

async function collectSet(context: StageContext, set: QuestionSet): Promise<{ questions: string[]; calls: number; dropped: number }> {
  const { questions: settings, seed } = context.config;
  const baseCalls = Math.ceil(set.wanted / settings.perCall);
  const ask = async (call: number) => (await context.roles.generator.chat(generatorRequest(context, set.prompt, deriveSeed(seed, 'g2', set.key, call)), context.signal)).texts[0] ?? '';
  const replies = await Promise.all(Array.from({ length: baseCalls }, (_, call) => ask(call)));
  const collect = () => {
    const parsed = replies.flatMap(parseQuestions);
    return { parsed, unique: dedupQuestions(parsed) };
  };
  let { parsed, unique } = collect();
  for (let extra = 0; unique.length < set.wanted && extra < settings.maxExtraCalls; extra++) {
    replies.push(await ask(baseCalls + extra));
    ({ parsed, unique } = collect());
  }
  const lines = replies.reduce((sum, reply) => sum + reply.split('\n').filter((line) => line.trim() !== '').length, 0);
  const ordered = set.shuffleSeed === undefined ? unique : shuffled(unique, rngFor(set.shuffleSeed, 'divergent-shuffle'));
  return { questions: ordered.slice(0, set.wanted), calls: replies.length, dropped: lines - parsed.length + (parsed.length - unique.length) };
}

/** Every question of the build, with ids; from stages/questions.json when an earlier run made it. */
export async function questionsStage(context: StageContext, personas: readonly PersonaRecord[]): Promise<Question[]> {
  const path = stagePath(context, 'questions.json');
  const existing = readJsonFile(path, QuestionsFile, REBUILD_STAGE);
  if (existing) return existing.questions;
  const { config } = context;
  const axes = axesOf(personas);
  const sets: (QuestionSet & { persona?: string; axis?: string })[] = [
    ...personas.map((persona) => ({
      key: `personal:${persona.name}`,
      persona: persona.name,
      wanted: config.questions.personalPerPersona,
      prompt: personalQuestionsPrompt({ name: persona.name, nResponses: config.questions.perCall, axes: axisLabels(persona) }),
    })),
    ...axes.map((axis) => {
      const members = membersOf(personas, axis);
      return {
        key: `divergent:${axis}`,
        axis,
        wanted: config.questions.divergentPerAxis,
        shuffleSeed: deriveSeed(config.seed, axis),
        prompt: divergentQuestionsPrompt({ names: members.map((m) => m.name), axis, personCategories: members.map(personCategoryLabel), nResponses: config.questions.perCall }),
      };
    }),
  ];
  const journal = new Journal(stagePath(context, 'questions.jsonl'), QuestionSetRecord);
  try {
    await runItems(context, 'Questions (G.2)', sets, {
      concurrency: context.roles.generator.concurrency,
      done: (set) => journal.latest.get(set.key)?.ok === true,
      work: async (set) => {
        try {
          const result = await collectSet(context, set);
          if (result.questions.length === 0) {
            journal.append({ ok: false, key: set.key, error: `no question could be read from ${result.calls} repl${result.calls === 1 ? 'y' : 'ies'}`, retryable: false });
          } else {
            journal.append({ ok: true, key: set.key, ...result });
          }
        } catch (error) {
          journal.append(callFailure(set.key, unlessCancelled(error)));
        }
      },
    });
  } finally {
    await journal.close();
  }
  const retryable = sets.filter((set) => {
    const record = journal.latest.get(set.key);
    return record === undefined || (!record.ok && record.retryable);
  });
  if (retryable.length > 0) {
    // Questions fix every later id: finish them before anything depends on them.
    const reasons = groupFailures(retryable.map((set) => ({ key: set.key, reason: failureReason(journal.latest.get(set.key)) })));
    throw new AppError('invalid-input', `Question generation (G.2) failed for ${countOf(retryable.length, 'question set')}. ${reasons}. Run the same command again to retry ${retryable.length === 1 ? 'it' : 'them'}.`);
  }
  const questions: Question[] = sets.flatMap((set) => {
    const record = journal.latest.get(set.key);
    if (!record?.ok) return [];
    return record.questions.map((prompt, index) =>
      set.persona !== undefined
        ? { id: personalQuestionId(set.persona, index), type: 'personal' as const, persona: set.persona, prompt }
        : { id: divergentQuestionId(set.axis ?? '', index), type: 'divergent' as const, axis: set.axis, prompt },
    );
  });
  writeFileAtomic(path, `${JSON.stringify({ questions }, null, 1)}\n`);
  return questions;
}
