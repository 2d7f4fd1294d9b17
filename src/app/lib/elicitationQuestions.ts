/**
 * The questions the Elicitation section can ask, from its three sources: the selected person's
 * train pairs in the loaded pair set (never the test pairs, which measure the persona), a pasted
 * list (one question a line; numbered or bulleted lists are read as G.2 replies are), or questions
 * the loaded model writes with G.2 from the user's one-line self-description.
 */
import type { ChatMessage } from '../../core/chat.ts';
import { dedupQuestions, parseQuestions, questionKey } from '../../core/dataset/questions.ts';
import { hash64Hex } from '../../core/hash.ts';
import { ASSISTANT_SYSTEM_PROMPT, personalQuestionsPrompt } from '../../core/prompts.ts';
import type { ElicitationQuestion } from '../storage/elicitationRecords.ts';
import type { Person } from './people.ts';

/** How many questions one G.2 request asks for. */
export const GENERATED_QUESTION_COUNT = 10;

/** A question's id when no pair names it: the same text (case and spacing aside) gives the same id. */
export function questionId(text: string): string {
  return `q-${hash64Hex(questionKey(text))}`;
}

/** The person's train questions, each once, with the pair's id (so labels can be compared with the judge's). */
export function pairSetQuestions(person: Person | undefined): ElicitationQuestion[] {
  if (!person) return [];
  const seen = new Set<string>();
  return person.train.flatMap((pair) => {
    const key = questionKey(pair.prompt);
    if (seen.has(key)) return [];
    seen.add(key);
    return [{ id: pair.id, text: pair.prompt, source: 'pair-set' as const }];
  });
}

/** Questions from a pasted list, duplicates dropped. */
export function pastedQuestions(text: string): ElicitationQuestion[] {
  return dedupQuestions(parseQuestions(text)).map((question) => ({ id: questionId(question), text: question, source: 'pasted' as const }));
}

export function generatedQuestions(questions: readonly string[], selfDescription: string): ElicitationQuestion[] {
  return dedupQuestions(questions).map((question) => ({ id: questionId(question), text: question, source: 'generated' as const, selfDescription }));
}

/** A self-description as G.2 is given it: one line, single spaces. */
export function oneLine(text: string): string {
  return text.trim().replace(/\s+/gu, ' ');
}

/** Tokens G.2's reply may take: enough for a numbered list of GENERATED_QUESTION_COUNT questions. */
export const G2_MAX_NEW_TOKENS = 512;

/**
 * G.2's personal-questions prompt for someone known only by their own one-line description: it
 * stands where G.2 names the famous person and is the one category the questions may draw on.
 */
export function selfDescriptionMessages(selfDescription: string, count = GENERATED_QUESTION_COUNT): ChatMessage[] {
  const description = oneLine(selfDescription);
  return [
    { role: 'system', content: ASSISTANT_SYSTEM_PROMPT },
    { role: 'user', content: personalQuestionsPrompt({ name: `someone who describes themselves as "${description}"`, nResponses: count, axes: [description] }) },
  ];
}

/** The questions of the model's G.2 reply, each once. */
export function questionsFromReply(reply: string): string[] {
  return dedupQuestions(parseQuestions(reply));
}
