/**
 * The call plan of a build, for `--dry-run`: how many calls each stage makes with which role, and a
 * token and cost estimate, computed from the config alone (no provider is created or called).
 *
 * Counts are the pipeline's minimum: extra G.2 calls when a reply yields too few questions, CoT
 * re-samples and judge retries come on top and are rare. Tokens: prompts are the real prompt texts
 * (G.1/G.2 for the actual people) or built from typical lengths, at ~4 characters per token;
 * completions are given twice, "typical" (the lengths stated below) and "max" (every completion at
 * its max_tokens), so the estimate brackets the bill.
 */
import { ASSISTANT_SYSTEM_PROMPT, JUDGE_MAX_EXAMPLES, cotResponseSystem, judgeMessages, personaSelectionPrompt, personalQuestionsPrompt, divergentQuestionsPrompt, personCategoryLabel } from '../prompts.ts';
import { bracketLevelCount } from './bracket.ts';
import type { BuildConfig, Pricing, RoleName } from './config.ts';
import type { PersonaRecord } from './records.ts';
import { axesOf, axisLabels, membersOf } from './roster.ts';

export const CHARS_PER_TOKEN = 4;
/** Typical completion sizes used for the "typical" estimate. */
export const TYPICAL = {
  tokensPerQuestion: 30,
  personaSelectionTokens: 250,
  /** Zephyr at temperature 2 tends to run to max_tokens. */
  answerFillOfMax: 0.8,
  questionTokens: 30,
  cotTokens: 60,
  judgeTokensPerVerdict: 70,
} as const;

export interface PlannedStage {
  stage: string;
  role: RoleName;
  calls: number;
  /** Items sent within those calls (texts scored or embedded) when not one per call. */
  items?: number;
  promptTokens: number;
  completionTokens: number;
  completionTokensMax: number;
  note: string;
}

const tokens = (text: string) => Math.ceil(text.length / CHARS_PER_TOKEN);

/** The people a plan assumes: the resolved ones, or for `generate` placeholders, `maxPerAxis` per axis. */
export function plannedPeople(config: BuildConfig, resolved: readonly PersonaRecord[] | undefined): PersonaRecord[] {
  if (resolved) return [...resolved];
  if (config.personas.source !== 'generate') return [];
  const { axes, maxPerAxis } = config.personas;
  return axes.flatMap((axis) =>
    Array.from({ length: maxPerAxis }, (_, i) => ({ name: `Person ${i + 1} of ${axis}`, memberships: [{ axis, category: `Category ${i + 1}` }], descriptions: [], cv: 0 })),
  );
}

export function planBuild(config: BuildConfig, resolved: readonly PersonaRecord[] | undefined): PlannedStage[] {
  const people = plannedPeople(config, resolved);
  const axes = axesOf(people);
  const { questions, responses, filter, judge } = config;
  const stages: PlannedStage[] = [];
  const system = tokens(ASSISTANT_SYSTEM_PROMPT);

  if (config.personas.source === 'generate') {
    const prompts = config.personas.axes.map((axis) => tokens(personaSelectionPrompt({ axis })) + system);
    stages.push({
      stage: 'personas (G.1)',
      role: 'generator',
      calls: prompts.length,
      promptTokens: prompts.reduce((a, b) => a + b, 0),
      completionTokens: prompts.length * TYPICAL.personaSelectionTokens,
      completionTokensMax: prompts.length * questions.maxTokens,
      note: 'one call per axis; people are those the replies name (placeholders below)',
    });
  }

  const callsPerSet = (wanted: number) => Math.ceil(wanted / questions.perCall);
  const personalCalls = people.length * callsPerSet(questions.personalPerPersona);
  const personalPrompt = people.reduce(
    (sum, person) => sum + callsPerSet(questions.personalPerPersona) * (system + tokens(personalQuestionsPrompt({ name: person.name, nResponses: questions.perCall, axes: axisLabels(person) }))),
    0,
  );
  const questionStage = (stage: string, calls: number, promptTokens: number, note: string): PlannedStage => ({
    stage,
    role: 'generator',
    calls,
    promptTokens,
    completionTokens: calls * questions.perCall * TYPICAL.tokensPerQuestion,
    completionTokensMax: calls * questions.maxTokens,
    note,
  });
  stages.push(questionStage('personal questions (G.2)', personalCalls, personalPrompt, `${questions.personalPerPersona} per persona, ${questions.perCall} per call`));

  const divergentCalls = axes.length * callsPerSet(questions.divergentPerAxis);
  const divergentPrompt = axes.reduce((sum, axis) => {
    const members = membersOf(people, axis);
    const prompt = divergentQuestionsPrompt({ names: members.map((m) => m.name), axis, personCategories: members.map(personCategoryLabel), nResponses: questions.perCall });
    return sum + callsPerSet(questions.divergentPerAxis) * (system + tokens(prompt));
  }, 0);
  stages.push(questionStage('divergent questions (G.2)', divergentCalls, divergentPrompt, `${questions.divergentPerAxis} per axis, ${questions.perCall} per call`));

  const personalQuestions = people.length * questions.personalPerPersona;
  const divergentQuestions = axes.length * questions.divergentPerAxis;
  const typicalAnswer = Math.round(responses.maxTokens * TYPICAL.answerFillOfMax);
  const phaseOne = responses.personalCots === 'sampled' ? personalQuestions * responses.cotsPerQuestion : 0;
  const cotSystem = tokens(cotResponseSystem(responses.cotAxisList));
  stages.push({
    stage: 'CoT sampling, phase 1 (G.3)',
    role: 'baseline',
    calls: phaseOne,
    promptTokens: phaseOne * (cotSystem + TYPICAL.questionTokens),
    completionTokens: phaseOne * typicalAnswer,
    completionTokensMax: phaseOne * responses.maxTokens,
    note: responses.personalCots === 'sampled' ? `${responses.cotsPerQuestion} CoTs per personal question (divergent CoTs are gold, no call)` : 'every CoT is gold: no call',
  });
  const personalPhaseTwo = responses.personalCots === 'sampled' ? responses.answersPerCot - 1 : responses.answersPerCot;
  const phaseTwo = personalQuestions * responses.cotsPerQuestion * personalPhaseTwo + divergentQuestions * responses.cotsPerQuestion * responses.answersPerCot;
  stages.push({
    stage: 'answers per CoT, phase 2',
    role: 'baseline',
    calls: phaseTwo,
    promptTokens: phaseTwo * (cotSystem + TYPICAL.questionTokens + TYPICAL.cotTokens),
    completionTokens: phaseTwo * typicalAnswer,
    completionTokensMax: phaseTwo * responses.maxTokens,
    note: `${responses.answersPerCot} answers per CoT, ${responses.cotsPerQuestion * responses.answersPerCot} candidates per question`,
  });

  const allQuestions = personalQuestions + divergentQuestions;
  const candidates = responses.cotsPerQuestion * responses.answersPerCot;
  stages.push({ stage: 'generic reward', role: 'reward', calls: allQuestions, items: allQuestions * candidates, promptTokens: 0, completionTokens: 0, completionTokensMax: 0, note: `window of ${filter.rewardWindow}` });
  stages.push({ stage: 'embeddings + k-means', role: 'embedder', calls: allQuestions, items: allQuestions * Math.min(filter.rewardWindow, candidates), promptTokens: 0, completionTokens: 0, completionTokensMax: 0, note: `k = ${filter.k}` });

  const rows = personalQuestions + axes.reduce((sum, axis) => sum + questions.divergentPerAxis * membersOf(people, axis).length, 0);
  let judgeCalls = 0;
  let matches = 0;
  for (let level = 0; level < bracketLevelCount(filter.k); level++) {
    const levelMatches = rows * (filter.k / 2 ** (level + 1));
    matches += levelMatches;
    judgeCalls += Math.ceil(levelMatches / judge.batchSize);
  }
  const template = tokens(judgeMessages(Array.from({ length: JUDGE_MAX_EXAMPLES }, () => ({ instruction: '', input: '', outputA: '', outputB: '' }))).map((m) => m.content).join('\n'));
  stages.push({
    stage: 'judge (G.4)',
    role: 'judge',
    calls: judgeCalls,
    items: matches,
    promptTokens: judgeCalls * template + matches * (TYPICAL.questionTokens + 2 * typicalAnswer),
    completionTokens: matches * TYPICAL.judgeTokensPerVerdict,
    completionTokensMax: judgeCalls * judge.maxTokens,
    note: `${rows} rows × ${filter.k - 1} matches, ${judge.batchSize} per call`,
  });
  return stages;
}

export interface RoleEstimate {
  role: RoleName;
  calls: number;
  promptTokens: number;
  completionTokens: number;
  completionTokensMax: number;
  /** USD; undefined when the role has no pricing. */
  usd?: number;
  usdMax?: number;
}

export function costOf(promptTokens: number, completionTokens: number, pricing: Pricing): number {
  return (promptTokens * pricing.promptPerMillion + completionTokens * pricing.completionPerMillion) / 1e6;
}

export function estimateByRole(plan: readonly PlannedStage[], pricing: Partial<Record<RoleName, Pricing>>): RoleEstimate[] {
  const roles = [...new Set(plan.map((stage) => stage.role))];
  return roles.map((role) => {
    const stages = plan.filter((stage) => stage.role === role);
    const sum = (pick: (stage: PlannedStage) => number) => stages.reduce((total, stage) => total + pick(stage), 0);
    const estimate: RoleEstimate = {
      role,
      calls: sum((s) => s.calls),
      promptTokens: sum((s) => s.promptTokens),
      completionTokens: sum((s) => s.completionTokens),
      completionTokensMax: sum((s) => s.completionTokensMax),
    };
    const price = pricing[role];
    if (price) {
      estimate.usd = costOf(estimate.promptTokens, estimate.completionTokens, price);
      estimate.usdMax = costOf(estimate.promptTokens, estimate.completionTokensMax, price);
    }
    return estimate;
  });
}
