/**
 * A scripted stand-in for the models of a dataset build, as a handler for the scripted OpenAI server
 * (tests/support/scriptedOpenAiServer.ts): it recognises each prompt of the pipeline by its text
 * and answers with canned but well-formed text, deterministically from the request body (so a cached
 * re-run and a fresh run see the same answers).
 *
 * - G.1 (persona selection): "- category, name, description" lines from `people`, wrapped in a header
 *   and a footer line (which the parser must skip).
 * - G.2 (questions): a header, numbered questions, a footer; a repeated question now and then (dedup).
 * - G.3 phase 1: "Axis / Categories / Chosen category / Response" text; every `unusableCotEvery`-th
 *   request answers without the CoT block (the build must re-sample). Phase 2: "Response: …".
 * - G.4 (judge): one JSON verdict per example, in ``` fences with headings; every
 *   `malformedJudgeEvery`-th request drops a verdict (count mismatch: the build must retry), and
 *   examples of the personas in `unreadableFor` get no boolean (they must end as recorded failures).
 * - Faults: the first time a request body is seen, every `faultEvery`-th one gets a 500 or a 429 with
 *   Retry-After 0 (the provider must retry; the repeat of that body then succeeds).
 */
import { createHash } from 'node:crypto';
import { chatCompletionBody, reply } from './scriptedOpenAiServer.ts';
import type { ScriptedHandler } from './scriptedOpenAiServer.ts';

export interface DatasetScriptOptions {
  /** G.1 answers: axis → [category, name] rows. */
  people: Record<string, readonly (readonly [string, string])[]>;
  unusableCotEvery?: number;
  malformedJudgeEvery?: number;
  unreadableFor?: readonly string[];
  faultEvery?: number;
}

interface Message {
  role: string;
  content: string;
}

function hash(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

const TOPICS = ['breakfast', 'travel', 'savings', 'exercise', 'books', 'parenting', 'gardening', 'podcasts', 'cooking', 'volunteering', 'music', 'sleep'];

function words(seed: number, count: number): string {
  const vocabulary = ['clear', 'gentle', 'bold', 'practical', 'honest', 'detailed', 'short', 'warm', 'careful', 'lively', 'plain', 'curious', 'steady', 'bright'];
  return Array.from({ length: count }, (_, i) => vocabulary[((seed >>> (i % 24)) + i) % vocabulary.length] ?? 'word').join(' ');
}

function questionsReply(who: string, n: number, seed: number): string {
  const lines = Array.from({ length: n }, (_, i) => {
    // Every fourth question repeats across calls, so dedup has something to do.
    const topic = TOPICS[(i % 4 === 3 ? 0 : seed + i) % TOPICS.length] ?? 'life';
    const variant = i % 4 === 3 ? 'always' : String((seed + i) % 97);
    return `${i + 1}. What would ${who} think about ${topic} (${variant})?`;
  });
  return `Sure! Here are ${n} questions ${who} might ask:\n\n${lines.join('\n')}\n\nI hope these help!`;
}

function judgeReply(user: string, seed: number, options: DatasetScriptOptions): string {
  const count = Number(/Now I will give you (\d+) examples/u.exec(user)?.[1] ?? 0);
  const verdicts: string[] = [];
  for (let example = 3; example < 3 + count; example++) {
    const instruction = new RegExp(`### Instruction for example ${example}:\\n(.*)`, 'u').exec(user)?.[1] ?? '';
    const outputA = new RegExp(`### Output \\(a\\) for example ${example}:\\n([\\s\\S]*?)\\n\\n### Output \\(b\\)`, 'u').exec(user)?.[1] ?? '';
    const outputB = new RegExp(`### Output \\(b\\) for example ${example}:\\n([\\s\\S]*?)(?:\\n\\n## |$)`, 'u').exec(user)?.[1] ?? '';
    const unreadable = options.unreadableFor?.some((name) => instruction.includes(`simulate ${name}'s`)) ?? false;
    // A stable preference per (person, pair of answers), whatever order they are shown in.
    const [first, second] = [outputA, outputB].sort();
    const prefersFirstSorted = hash(`${instruction}\u0000${first}\u0000${second}`) % 2 === 0;
    const aIsBetter = prefersFirstSorted === (outputA === first);
    const verdict = unreadable
      ? { 'Concise explanation': 'I cannot decide.', 'Output (a) is better than Output (b)': 'maybe' }
      : { 'Concise explanation': `Output (${aIsBetter ? 'a' : 'b'}) suits them better.`, 'Output (a) is better than Output (b)': aIsBetter };
    verdicts.push(`### Preferred output in JSON format for example ${example}:\n\`\`\`json\n${JSON.stringify(verdict, null, 2)}\n\`\`\``);
  }
  if (options.malformedJudgeEvery && seed % options.malformedJudgeEvery === 0 && verdicts.length > 0) verdicts.pop();
  return verdicts.join('\n\n');
}

/** The text a pipeline request would get from the scripted models, or undefined for an unknown prompt. */
export function scriptedAnswer(body: { messages?: Message[]; seed?: number }, options: DatasetScriptOptions): string | undefined {
  const messages = body.messages ?? [];
  const system = messages.find((message) => message.role === 'system')?.content ?? '';
  const user = [...messages].reverse().find((message) => message.role === 'user' && message.content !== '')?.content ?? '';
  const seed = body.seed ?? hash(JSON.stringify(messages));
  if (user.startsWith('Individual preferences may differ in many axis')) {
    const axis = /Take (.+) as an example axis/u.exec(user)?.[1] ?? '';
    const rows = (options.people[axis] ?? []).map(([category, name]) => `- ${category}, ${name}, a well-known voice on ${axis}.`);
    return `Sure! Here are some sub-categories of ${axis}:\n\n${rows.join('\n')}\n\nLet me know if you need more.`;
  }
  const personal = /Given what you know about (.+?), what kind of questions would you expect/u.exec(user);
  const common = /Given what you know about (.+?), what kind of questions in common/u.exec(user);
  const count = Number(/Provide (\d+) examples/u.exec(user)?.[1] ?? 5);
  if (personal?.[1]) return questionsReply(personal[1], count, seed);
  if (common?.[1]) return questionsReply(`people like ${/based on their (.+?) categories/u.exec(user)?.[1] ?? 'them'}`, count, seed);
  if (system.startsWith('You are a helpful assistant that selects the output')) return judgeReply(user, seed, options);
  if (system.startsWith('You are a helpful assistant. You will be given a question')) {
    if (messages.length <= 2) {
      if (options.unusableCotEvery && seed % options.unusableCotEvery === 0) return `I would simply say: ${words(seed, 12)}.`;
      return `Axis: diet\nCategories: Veganism, Ketogenic, Paleo\nChosen category: Ketogenic\nResponse: As someone who loves keto, ${words(seed, 40)}. ${words(seed >>> 3, 30)}.`;
    }
    const category = /Chosen Category: (.*)$/u.exec(messages[2]?.content ?? '')?.[1] ?? '';
    return `Response: For a ${category} reader, ${words(seed, 30 + (seed % 20))}. ${words(seed >>> 5, 25)} and ${words(seed >>> 7, 10)}.`;
  }
  return undefined;
}

/** A handler for POST /v1/chat/completions that answers with `scriptedAnswer` and injects faults. */
export function datasetChatHandler(options: DatasetScriptOptions): ScriptedHandler {
  const seen = new Set<string>();
  return (body, _callIndex, request) => {
    const firstTime = !seen.has(request.key);
    seen.add(request.key);
    if (options.faultEvery && firstTime && hash(request.key) % options.faultEvery === 0) {
      return hash(request.key) % 2 === 0
        ? reply({ status: 500, body: { error: { message: 'scripted server error', type: 'server_error', param: null, code: null } } })
        : reply({ status: 429, headers: { 'retry-after': '0' }, body: { error: { message: 'scripted rate limit', type: 'rate_limit_error', param: null, code: null } } });
    }
    const text = scriptedAnswer(body as { messages?: Message[]; seed?: number }, options);
    if (text === undefined) return reply({ status: 400, body: { error: { message: 'The scripted server does not know this prompt.', type: 'invalid_request_error', param: null, code: null } } });
    const promptChars = ((body as { messages?: Message[] }).messages ?? []).reduce((sum, message) => sum + message.content.length, 0);
    return chatCompletionBody([text], { prompt_tokens: Math.ceil(promptChars / 4), completion_tokens: Math.ceil(text.length / 4) });
  };
}
