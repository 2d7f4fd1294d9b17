/**
 * What exactly gets scored. Builds the prompt and answer strings of a scoring convention,
 * splits tokens at the prompt/answer boundary (with the merge fix), adds BOS/EOS and applies
 * the authors' truncation. Pure functions; every engine scores the token ids this produces,
 * so every backend sees identical inputs.
 *
 * Conventions (recorded with every result):
 * - `authors` (reward-bench DPO inference, spec §3.7, §4.2–4.3): prompt = `<|user|>\n{x}</s>\n`;
 *   answer = `<|assistant|>\n{y}</s>` (the full chat minus the prompt, stripped), BOS prepended to
 *   the prompt tokens and an EOS appended to the answer tokens, so `<|assistant|>\n` is scored
 *   and the answer ends in two EOS tokens.
 * - `clean`: prompt = the chat with the generation prompt (`…<|assistant|>\n`); answer = the
 *   response alone plus EOS: exactly what the model would have to generate.
 */
import { z } from 'zod';
import type { ChatTemplate } from './chatTemplate.ts';
import { AppError } from './errors.ts';

export const Convention = z.enum(['authors', 'clean']);
export type Convention = z.infer<typeof Convention>;

export const TruncationLimits = z.object({
  /** Prompt plus the longer answer, in tokens. */
  maxLength: z.number().int().positive(),
  /** Tokens kept from the prompt's end when the pair is too long. */
  maxPromptLength: z.number().int().positive(),
});
export type TruncationLimits = z.infer<typeof TruncationLimits>;

/** The authors' released evaluation settings (the paper's App. H says 1024/512; the code uses these). */
export const AUTHORS_LIMITS: TruncationLimits = { maxLength: 2500, maxPromptLength: 1988 };

export interface ScoringTexts {
  prompt: string;
  answer: string;
}

export function scoringTexts(
  userContent: string,
  response: string,
  convention: Convention,
  template: ChatTemplate,
): ScoringTexts {
  const user = { role: 'user' as const, content: userContent };
  if (convention === 'clean') {
    return { prompt: template.render([user], { addGenerationPrompt: true }), answer: response };
  }
  const prompt = template.render([user], { addGenerationPrompt: false });
  const full = template.render([user, { role: 'assistant', content: response }], { addGenerationPrompt: false });
  if (!full.startsWith(prompt)) {
    throw new AppError('unsupported', `Chat template "${template.name}" does not render the user turn as a prefix of the full chat; use --convention clean.`);
  }
  // Python's str.strip(): the trailing newline after </s> is dropped.
  return { prompt, answer: full.slice(prompt.length).trim() };
}

export interface BoundarySplit {
  promptIds: number[];
  answerIds: number[];
  /** The prompt's last token merged with the answer's first: the answer starts one token earlier. */
  merged: boolean;
}

/**
 * Answer tokens = tokens of prompt+answer after the prompt's tokens. When the prompt's own
 * tokenization is not a prefix of the joint one, its last token merged across the join and
 * the answer starts one token earlier (TRL's `build_tokenized_answer`).
 */
export function splitAtBoundary(promptOnlyIds: readonly number[], fullIds: readonly number[]): BoundarySplit {
  let start = promptOnlyIds.length;
  const merged = !promptOnlyIds.every((id, i) => fullIds[i] === id);
  if (merged) start -= 1;
  return { promptIds: fullIds.slice(0, start), answerIds: fullIds.slice(start), merged };
}

export interface TokenizedAnswer {
  /** BOS + prompt tokens the model conditions on for this answer (after truncation). */
  promptIds: number[];
  /** Scored tokens (after truncation), EOS appended. */
  answerIds: number[];
  merged: boolean;
}

export interface TruncationReport {
  prompt: boolean;
  answers: boolean;
}

/**
 * TRL's rule: if prompt + longer answer exceeds maxLength, keep the prompt's last
 * maxPromptLength tokens; if still too long, cut every answer to maxLength - maxPromptLength.
 * The longer answer decides for both, so both answers of a pair see the same prompt.
 */
export function truncateAnswers(
  answers: readonly TokenizedAnswer[],
  limits: TruncationLimits,
): { answers: TokenizedAnswer[]; truncated: TruncationReport } {
  const longer = Math.max(...answers.map((a) => a.answerIds.length));
  const truncated: TruncationReport = { prompt: false, answers: false };
  const out = answers.map((answer) => {
    let { promptIds, answerIds } = answer;
    if (promptIds.length + longer > limits.maxLength) {
      promptIds = promptIds.slice(-limits.maxPromptLength);
      truncated.prompt ||= promptIds.length < answer.promptIds.length;
    }
    if (promptIds.length + longer > limits.maxLength) {
      answerIds = answerIds.slice(0, limits.maxLength - limits.maxPromptLength);
      truncated.answers ||= answerIds.length < answer.answerIds.length;
    }
    return { promptIds, answerIds, merged: answer.merged };
  });
  return { answers: out, truncated };
}

export interface SpecialTokens {
  bos: number;
  eos: number;
}

export interface ScoringPlanOptions {
  convention: Convention;
  template: ChatTemplate;
  special: SpecialTokens;
  /** Omit to score the whole sequence (then the engine's context window is the only limit). */
  limits?: TruncationLimits;
}

/** Everything one engine call needs to score several answers to one prompt. */
export interface ScoringPlan {
  /** Shared prefix of every answer's prompt tokens: computed once, reused for each answer. */
  sharedPromptIds: number[];
  /** Per answer: tokens fed after the shared prompt; the last `answerIds.length` are scored. */
  continuations: number[][];
  answers: TokenizedAnswer[];
  truncated: TruncationReport;
}

export type TokenizeFn = (text: string) => Promise<number[]>;

/** Tokenizes (no special tokens added by the tokenizer), splits, adds BOS/EOS and truncates. */
export async function planScoring(
  tokenize: TokenizeFn,
  userContent: string,
  responses: readonly string[],
  options: ScoringPlanOptions,
): Promise<ScoringPlan> {
  const tokenized: TokenizedAnswer[] = [];
  for (const response of responses) {
    const texts = scoringTexts(userContent, response, options.convention, options.template);
    const [promptOnly, full] = await Promise.all([tokenize(texts.prompt), tokenize(texts.prompt + texts.answer)]);
    const split = splitAtBoundary(promptOnly, full);
    tokenized.push({
      promptIds: [options.special.bos, ...split.promptIds],
      answerIds: [...split.answerIds, options.special.eos],
      merged: split.merged,
    });
  }
  const { answers, truncated } = options.limits
    ? truncateAnswers(tokenized, options.limits)
    : { answers: tokenized, truncated: { prompt: false, answers: false } };
  const sharedPromptIds = commonPrefix(answers.map((a) => a.promptIds));
  const continuations = answers.map((a) => [...a.promptIds.slice(sharedPromptIds.length), ...a.answerIds]);
  return { sharedPromptIds, continuations, answers, truncated };
}

function commonPrefix(sequences: readonly (readonly number[])[]): number[] {
  const [first, ...rest] = sequences;
  if (!first) return [];
  let length = first.length;
  for (const sequence of rest) {
    let i = 0;
    while (i < length && i < sequence.length && sequence[i] === first[i]) i++;
    length = i;
  }
  return first.slice(0, length);
}
