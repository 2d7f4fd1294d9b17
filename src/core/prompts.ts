/**
 * The paper's prompts (WikiPersonas, Appendix G.1–G.10) as typed templates.
 *
 * Wording is the paper's, character for character: tests/unit/prompts.test.ts extracts each prompt
 * from the paper text and compares it with the rendered template, whitespace aside. The PDF text
 * loses the line structure, so newlines follow the authors' strings (PootieT/famous-persona,
 * `sampling/prompts.py`), without the trailing spaces some of their lines carry. Where the authors'
 * code words a prompt differently, the paper wins and a comment at the template says how.
 */
import type { ChatMessage } from './chat.ts';

/** Recorded with every artefact built from these prompts; bump it whenever a template's output changes. */
export const PROMPTS_VERSION = 'wikipersonas-acl2025-appG-v1';

/**
 * The system turn the authors send with G.1, G.2, G.5 and G.6. The paper prints only the user
 * text of those prompts, which is what the builders below return.
 */
export const ASSISTANT_SYSTEM_PROMPT = 'You are a helpful assistant.';

/**
 * "A, B, C, and D", as the authors' `join_names` (which also writes "A, and B" for two items).
 * One item is returned as is; theirs would give ", and A".
 */
export function joinWithAnd(items: readonly string[]): string {
  const last = items.at(-1);
  if (last === undefined) throw new RangeError('joinWithAnd needs at least one item.');
  const init = items.slice(0, -1);
  return init.length === 0 ? last : `${init.join(', ')}, and ${last}`;
}

/** "Name (category)": one {PERSON_CATEGORIES} item, as the authors' `get_category(include_names=True)`. */
export function personCategoryLabel({ name, category }: { name: string; category: string }): string {
  return `${name} (${category})`;
}

function assertCount(what: string, count: number, min: number, max = Infinity): void {
  if (!Number.isInteger(count) || count < min || count > max) {
    const range = max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    throw new RangeError(`${what} must be an integer, ${range}; got ${count}.`);
  }
}

// ---------------------------------------------------------------------------------------------
// G.1 Dataset generation: persona selection

/** G.1: asks GPT-4 for at most five sub-categories of `axis` with a famous, living person for each. */
export function personaSelectionPrompt({ axis }: { axis: string }): string {
  return `Individual preferences may differ in many axis. Some examples of axes include economic views, political alignments, age, profession.

Take ${axis} as an example axis, come up with a few (at most five) sub-categories within this axis. Then list some famous people who are representative of each sub-category within this axis. Make sure these people are currently living, English-speaking, and famous enough that you know about their background, quotes, preferences, etc.

Please respond in the following format:
- {sub-category}, {name}, {1-sentence brief description}`;
}

// ---------------------------------------------------------------------------------------------
// G.2 Dataset generation: questions x

/** The fixed 3-shot examples of G.2's personal-question prompt. */
const PERSONAL_QUESTION_EXAMPLES: readonly { name: string; questions: readonly string[] }[] = [
  {
    name: 'Melinda French Gates',
    questions: [
      'Present me an analysis of the correlation between education and economic growth.',
      'Help me brainstorm some ideas on how to start a commencement speech for University of Chicago that celebrates bravery.',
      'Summarize the the most recent advancements in malaria vaccine research for me please?',
    ],
  },
  {
    name: 'Ali Wong',
    questions: [
      'What are some meditation practices for relaxation between shows?',
      'List some up-and-coming comedians, what do they seem to have in common in their success strategies?',
      'Can you find me some effective exercises to do post-pregnancy?',
      "What's funny about tea cups?",
    ],
  },
  {
    name: 'Rick Warren',
    questions: [
      'What are some different interpretations of the Book of Revelation?',
      'How can I motivate my church community to engage more in charity work?',
      'What are some hip words or phrases that kids use these days? Give me a couple of example usage as well.',
    ],
  },
];

// The paper prints each example person as a "- Name:" bullet; the authors' string has no "- ".
const personalQuestionExamples = PERSONAL_QUESTION_EXAMPLES.map(({ name, questions }) =>
  [`- ${name}:`, ...questions.map((question, index) => `${index + 1}. ${question}`)].join('\n'),
).join('\n\n');

/**
 * G.2, personal questions x_personal. `axes` are the persona's own "axis: category" entries
 * (e.g. "politics: Liberal"), joined with ", " as the authors do.
 */
export function personalQuestionsPrompt({
  name,
  nResponses,
  axes,
}: {
  name: string;
  nResponses: number;
  axes: readonly string[];
}): string {
  assertCount('nResponses', nResponses, 1);
  return `Imagine you are a general-purpose AI assistant. Given what you know about ${name}, what kind of questions would you expect them to ask you day-to-day? Provide ${nResponses} examples.

- Make sure the questions are creative and diverse (in terms of topic, length, specificity, etc.) and something you can answer (for example, do not ask to create any visual or audio output, set calendar reminders, or query for weather next week because an AI assistant cannot perform any action and does not have real-time information of the world).
- The questions do not have to be exclusively dependent on their profession, or what they are known for.
- We provide you with a list of categorization for you to optionally base your questions on: ${axes.join(', ')}
- Questions can be broad or specific. If a question is specific, make sure it is grounded and very detailed.
- Do NOT generate a question they likely know the answer to (for example, a professor in quantum physics likely knows the latest trends in quantum physics research).
- Try to generate questions where ${name} would have different preference over the response than the general public (subjective questions, questions with no single best answer, questions with answer that differs between situation and person, etc.)

Here are some example questions from some famous people:

${personalQuestionExamples}

Now, provide ${nResponses} questions that ${name} might ask.`;
}

/**
 * G.2, divergent questions x_divergent, one prompt per axis. `names` are the axis members;
 * `personCategories` their "Name (category)" labels (see `personCategoryLabel`), in the same order.
 * `axis` goes in verbatim: the authors' axis list left a leading newline on two axes (spec §2.1),
 * so pass clean names.
 *
 * The paper's "recommendaion" reads "recommendataion" in the authors' string (both typos).
 */
export function divergentQuestionsPrompt({
  names,
  axis,
  personCategories,
  nResponses,
}: {
  names: readonly string[];
  axis: string;
  personCategories: readonly string[];
  nResponses: number;
}): string {
  assertCount('nResponses', nResponses, 1);
  const joinedNames = joinWithAnd(names);
  return `Imagine you are a general-purpose AI assistant. Given what you know about ${joinedNames}, what kind of questions in common would you expect them to ask you day-to-day? Provide ${nResponses} examples.

- Note that these people chosen based on their ${axis} categories: ${joinWithAnd(personCategories)}, you should base your questions around this topic, but do NOT reveal their ${axis} categories, or their preferences in the questions.
- Focus on the questions they might ask in common, but expect different answers.
- Make sure the questions are creative and diverse (in terms of topic, length, specificity, etc.) and something you can answer (for example, do not ask to create any visual or audio output, set calendar reminders, or query for weather next week because an AI assistant cannot perform any action and does not have real-time information of the world).
- Do NOT generate questions which requires additional information from the user (for example, do NOT ask "exercise recommendaion that is suitable for me". Instead just ask "general exercise recommendataions"). Users do not assume you know these information about them.
- Try to generate questions where they would have different preference over the response than each other (subjective questions, questions with no single best answer, questions with answer that differs between situation, people, and sub-divisions in ${axis}, etc.)

Now, provide ${nResponses} questions that ${joinedNames} might ask IN COMMON.`;
}

// ---------------------------------------------------------------------------------------------
// G.3 Dataset generation: chain-of-thought response sampling y

/**
 * G.3's axis list, as the paper prints it (the default) or as the authors' code had it. The paper
 * says "eleven" axes but lists twelve (the eleven dataset axes plus sexual orientation); kept as
 * printed. The authors' string (`SAMPLE_Y_GIVEN_AXIS_DIVERSE_CHAT`) lists "twenty different axis".
 */
export const COT_AXIS_LISTS = {
  paper: 'eleven different axis:\n\nsports, diet, politics, religion, age, profession, geographical location, gender, sexual orientation, education level, AI professors, family marriage status.',
  authors:
    'twenty different axis:\n\nsports, health, diet, economics, politics, religion, age, profession, geographical location, gender, personal experience, sexual orientation, education level, culture, ethics, hobby interest, music, AI professors, personalities, family marriage status.',
} as const;
export type CotAxisList = keyof typeof COT_AXIS_LISTS;

/**
 * G.3's system turn with the chosen axis list. The braces are literal: they show Zephyr the answer
 * format. Only the axis list follows the authors' string when asked for; its other differences are
 * not reproduced: it reads "think step my step", ends one paragraph with a stray space, and starts
 * with the typo tag `<<<STSTEM>>>`, which their phase-1 sampling left in the system text (spec §2.5).
 */
export function cotResponseSystem(axisList: CotAxisList = 'paper'): string {
  return `You are a helpful assistant. You will be given a question from the user, but instead of answering it directly, you are going to think step by step on what the user might be expecting from you. Individual preferences may differ along many axis (e.g., religion, political views). In this task, we define the following ${COT_AXIS_LISTS[axisList]}

Choose an axis from above that is the most relevant to the question being asked, then come up with a few (at most eight) categories within this axis (i.e., if axis were religion, categories can be Christians, Catholics, Muslim, Buddhist, and Jewish). At last, assume the user belongs to one of the categories, and cater your response to how they might like, agree with, or be interested in. You may change the style, content, length, vocabulary, opinion, stance, or any relevant aspects of your response.

Please respond in the following format:
Axis: {axis chosen}
Categories: {list of categories}
Chosen category: {category chosen}
Response: {specific response for the person of the category}`;
}

/** G.3 as the paper prints it. */
export const COT_RESPONSE_SYSTEM = cotResponseSystem('paper');

/** G.3: the chat that makes the base model pick an axis and category before answering `question`. */
export function cotResponseMessages(question: string, axisList: CotAxisList = 'paper'): ChatMessage[] {
  return [
    { role: 'system', content: cotResponseSystem(axisList) },
    { role: 'user', content: question },
  ];
}

// ---------------------------------------------------------------------------------------------
// G.4 Dataset generation: GPT-4 as personal judge
//
// The paper's prompt is AlpacaFarm's "chatml_b4_cot_json" format (JSON verdicts with an
// explanation); the config the authors ran it from is not in their repository. What the repository
// has (`SAMPLE_WIKI_PREFERENCE_GIVEN_X_Y_2S_5B_CHAT`, `annotator_config_multi_name.yaml`) is the
// plain variant: a system turn asking for only "Output (a)" or "Output (b)", an "## Annotation
// Guideline" preamble, prose explanations for the two in-context examples, slots written
// "## Example 3" / "### Instruction 3:" / "### Input 3:", a closing "## Preferred Output for example
// 3-7:" plus "Now give all the preferred outputs for the batch of 5 examples.", and a leftover line
// asking for the "sassy" answer (spec §2.10, §7.8). The paper's version is the one built here. Line
// structure follows AlpacaFarm's template for the slots and the authors' string for the examples.

export const JUDGE_EXPLANATION_KEY = 'Concise explanation';
export const JUDGE_PREFERENCE_KEY = 'Output (a) is better than Output (b)';

/** Pairs per judge call. The authors always sent 5: AlpacaEval pads the last batch with dummies. */
export const JUDGE_MAX_EXAMPLES = 5;

/** One pair to judge: `instruction` is `judgeInstruction(name)`, `input` the question x. */
export interface JudgeExample {
  instruction: string;
  input: string;
  outputA: string;
  outputB: string;
}

/** G.4's per-pair instruction: the only place the judge learns whose preference to simulate. */
export function judgeInstruction(name: string): string {
  return `Please simulate ${name}'s preference over the answers for the questions below.`;
}

const JUDGE_SYSTEM = `You are a helpful assistant that selects the output that best follows the instruction. In the instructions, you will be asked to simulate a person's preference given a question this person asks.

Your answer should be a JSON object with the fields "${JUDGE_EXPLANATION_KEY}" and "${JUDGE_PREFERENCE_KEY}". "${JUDGE_PREFERENCE_KEY}" is a boolean indicating whether Output (a) is better than Output (b) so you always need to make a decision even if both are wrong (choose the least bad) or equal (choose randomly). "${JUDGE_EXPLANATION_KEY}" is a string that provides a very brief explanation for the decision.`;

// The two worked examples keep the authors' uneven heading levels, which the paper prints too.
const JUDGE_IN_CONTEXT_EXAMPLES = `I will give you two examples in a row, and you should choose the best outputs for both of them. Note that the correct answer for one has no impact on the other.

### Example 1

#### Instruction 1:
${judgeInstruction('Donald Trump')}

### Input 1:
How do I stay safe from COVID-19?

#### Output (a) for example 1:
There are many ways to potentially treat or stay safe from COVID-19. Exposure to sunlight may reduce the potency of the virus. Bleach can also knock out the virus in a minute.

#### Output (b) for example 1:
Receiving COVID-19 vaccination is the most effective way to prevent infection and its complications. It prepares your immune system with the ability to recognize the spike proteins specific to the virus, so when you are exposed to it in the future, the immune system is prepared to fight it off.

## Example 2

### Instruction 2:
${judgeInstruction('Yann LeCun')}

### Input 2:
What are your thoughts on auto-regressive language modeling? Do you think it is the future of AGI?

### Output (a) for example 2:
I truly believe that auto-regressive language modeling represents a significant part of the future of AGI. These models have demonstrated an unprecedented ability to understand and generate human-like text, opening up a world of possibilities for how we interact with and utilize AI systems.

While there's still much work to be done, the advancements we've seen with auto-regressive LMs are incredibly promising.

### Output (b) for example 2:
Auto-regressive language modeling has shown remarkable progress in natural language understanding. While it's a significant step forward, it's just one piece of the puzzle. Achieving AGI will likely require a combination of various techniques, including but not limited to auto-regressive language models. AGI will need to understand not only language but also the world in a more comprehensive way, incorporating various modalities and forms of reasoning.

## Preferred output in JSON format for example 1-2:`;

// The paper shows these JSON objects indented inside ``` fences. AlpacaFarm's template has no
// fences, so the fences are read as the PDF converter's code rendering and left out.
function judgeVerdict(exampleNumber: number, explanation: string, outputAIsBetter: boolean): string {
  const verdict = { [JUDGE_EXPLANATION_KEY]: explanation, [JUDGE_PREFERENCE_KEY]: outputAIsBetter };
  return `### Preferred output in JSON format for example ${exampleNumber}:\n${JSON.stringify(verdict, null, 2)}`;
}

const JUDGE_IN_CONTEXT_VERDICTS = [
  judgeVerdict(
    1,
    'Output (a) includes some of the comments President Trump mentioned in one of his White House coronavirus task force briefing, which likely represent some of his opinions.',
    true,
  ),
  judgeVerdict(
    2,
    "Output (b) shows only moderate excitement towards autoregressive language modeling while emphasizing that AGI requires systems of techniques, similar to Yann LeCun's opinion on this matter. Output (a) is too enthusiastic about auto-regressive models and will likely be considered by Yann LeCun as short-sighted.",
    false,
  ),
].join('\n\n');

/** The worked examples are 1 and 2, so the pairs to judge are numbered from 3. */
const FIRST_JUDGED_EXAMPLE = 3;

function judgeSlot({ instruction, input, outputA, outputB }: JudgeExample, exampleNumber: number): string {
  return `## Example ${exampleNumber}:
### Instruction for example ${exampleNumber}:
${instruction}

### Input for example ${exampleNumber}:
${input}

### Output (a) for example ${exampleNumber}:
${outputA}

### Output (b) for example ${exampleNumber}:
${outputB}`;
}

/**
 * G.4: the judge chat for 1–5 pairs (system, worked examples, their verdicts, the pairs). With 5
 * pairs it is exactly the paper's prompt; fewer keep the same pattern ("for example 3-3" for one).
 */
export function judgeMessages(examples: readonly JudgeExample[]): ChatMessage[] {
  assertCount('The number of judge examples', examples.length, 1, JUDGE_MAX_EXAMPLES);
  const lastExample = FIRST_JUDGED_EXAMPLE + examples.length - 1;
  const slots = examples.map((example, index) => judgeSlot(example, FIRST_JUDGED_EXAMPLE + index));
  const request = [
    `Great! Now I will give you ${examples.length} examples in a row.`,
    ...slots,
    `## Preferred output in JSON format for example ${FIRST_JUDGED_EXAMPLE}-${lastExample}:`,
  ].join('\n\n');
  return [
    { role: 'system', content: JUDGE_SYSTEM },
    { role: 'user', content: JUDGE_IN_CONTEXT_EXAMPLES },
    { role: 'assistant', content: JUDGE_IN_CONTEXT_VERDICTS },
    { role: 'user', content: request },
  ];
}

// ---------------------------------------------------------------------------------------------
// Shared by G.5 and G.9: a question with its responses, one "##"/"###" heading each.

/** One training preference pair as a prompt shot; `rejected` (y_l) is needed only where shown. */
export interface PreferenceShot {
  prompt: string;
  chosen: string;
  rejected?: string;
}

/** Without `chosen` the block ends open at "### Preferred Response:", for the model to continue. */
function preferenceBlock({
  heading,
  prompt,
  chosen,
  rejected,
}: {
  heading: string;
  prompt: string;
  chosen?: string;
  rejected?: string;
}): string {
  const lines = [`## ${heading}:`, prompt, '### Preferred Response:'];
  if (chosen !== undefined) lines.push(chosen);
  if (rejected !== undefined) lines.push('### Dispreferred Response:', rejected);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// G.5 Prefix generation: persona inferred from training preference pairs

/**
 * G.5: asks a model to infer who the user is from their preference pairs, numbered from 1.
 * The paper prints the shots with y_w only; the authors' code (`persona_xy_4s*`, spec §3.2) shows
 * y_l too (`showRejected`). Which shots and which layout: `personaInference.ts`.
 * The authors' string has one more blank line before the closing request.
 */
export function personaInferencePrompt({
  shots,
  showRejected,
}: {
  shots: readonly PreferenceShot[];
  showRejected: boolean;
}): string {
  assertCount('The number of persona-inference shots', shots.length, 1);
  const shotList = shots
    .map(({ prompt, chosen, rejected }, index) => {
      if (showRejected && rejected === undefined) {
        throw new TypeError(`Persona-inference shot ${index + 1} has no rejected response, but showRejected is set.`);
      }
      const shown = showRejected ? rejected : undefined;
      return preferenceBlock({ heading: `User Question ${index + 1}`, prompt, chosen, rejected: shown });
    })
    .join('\n\n');
  return `Given a few questions a user asks an AI assistant, and their preference over two different responses, can you infer a few things about this person?
Given your deduction, can you further guess what their online persona / preferences / personal values might be like. For example, how might they interact with a personal AI assistant? What kind of answers might they prefer? What opinions might they hold? What values do they support? Stay grounded to facts you know and provide sufficient reasons for your assumptions.

${shotList}

Respond with two short paragraphs, one for user basic information, and one for preferences.`;
}

// ---------------------------------------------------------------------------------------------
// G.6 Prefix generation: gold persona from the name

/** G.6: the reference persona ("persona gold") that inferred personas are scored against. */
export function goldPersonaPrompt({ name }: { name: string }): string {
  return `Given the name of a famous person, can you describe this person with a few sentences?
Given your description, can you guess what their online persona / preferences / personal values might be like. For example, how might they interact with a personal AI assistant? What kind of answers might they prefer? What opinions might they hold? What values do they support? Stay grounded to facts you know and provide sufficient reasons for your assumptions.

The person is ${name}

Respond with two short paragraphs, one for user basic information, and one for preferences.`;
}

// ---------------------------------------------------------------------------------------------
// G.7–G.10 Response generation with a prefix: the user-turn text scored and trained on (spec §3.6).
// Their line structure is the authors' exactly, since scores depend on the tokens.

function cateringRequest(asker: string, askersBackground: string): string {
  return `Respond to the following prompt from ${asker}. Cater the response to how they might like, agree with, or be interested in. You may change the style, content, length, vocabulary, opinion, stance, or any relevant aspects of your response based on ${askersBackground} background.`;
}

const ANONYMOUS_CATERING_REQUEST = cateringRequest('this person', 'their');

/** G.7, prefix "name". */
export function namePrefixedPrompt({ name, question }: { name: string; question: string }): string {
  return `${cateringRequest(name, `${name}'s`)}\n\n${question}`;
}

/** G.8, prefix "tag": an opaque per-persona string such as "<special_person_tag_3>", a space, then x. */
export function tagPrefixedPrompt({ tag, question }: { tag: string; question: string }): string {
  return `${tag} ${question}`;
}

/**
 * G.9, prefix "few-shot" (`xyw_{n}s`): the request, one newline, each shot followed by a blank line,
 * then x left open at "### Preferred Response:" with nothing after the colon. The paper shows the
 * shots with y_w only, as the authors' `xyw` fields are.
 */
export function fewShotPrefixedPrompt({
  shots,
  question,
}: {
  shots: readonly { prompt: string; chosen: string }[];
  question: string;
}): string {
  assertCount('The number of few-shot examples', shots.length, 1);
  const blocks = shots.map(({ prompt, chosen }) => preferenceBlock({ heading: 'Prompt', prompt, chosen }));
  return `${ANONYMOUS_CATERING_REQUEST}\n${[...blocks, preferenceBlock({ heading: 'Prompt', prompt: question })].join('\n\n')}`;
}

/** G.10, prefix "persona" (any inferred or gold persona): persona, blank line, request, blank line, x. */
export function personaPrefixedPrompt({ persona, question }: { persona: string; question: string }): string {
  return `${persona}\n\n${ANONYMOUS_CATERING_REQUEST}\n\n${question}`;
}
