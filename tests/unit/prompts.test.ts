import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/core/chat.ts';
import {
  COT_AXIS_LISTS,
  COT_RESPONSE_SYSTEM,
  cotResponseSystem,
  JUDGE_EXPLANATION_KEY,
  JUDGE_PREFERENCE_KEY,
  cotResponseMessages,
  divergentQuestionsPrompt,
  fewShotPrefixedPrompt,
  goldPersonaPrompt,
  joinWithAnd,
  judgeInstruction,
  judgeMessages,
  namePrefixedPrompt,
  personCategoryLabel,
  personaInferencePrompt,
  personaPrefixedPrompt,
  personaSelectionPrompt,
  personalQuestionsPrompt,
  tagPrefixedPrompt,
} from '../../src/core/prompts.ts';
import type { JudgeExample } from '../../src/core/prompts.ts';
import {
  PAPER_PROMPT_TITLES,
  appendixGPromptLines,
  canonicalMessages,
  canonicalPromptText,
  extractPaperPrompt,
  firstMismatch,
  readAppendixGFixture,
  readPaperText,
} from '../../scripts/fixtures/paperPrompts.ts';
import type { PaperPromptId } from '../../scripts/fixtures/paperPrompts.ts';

const paperText = readPaperText();
/** The paper itself when it is there, else the committed copy of its Appendix G lines. */
const paperSource = paperText ?? readAppendixGFixture();

/** nResponses is a number; this one cannot occur in the prompts, so it is swapped back for the paper's placeholder. */
const N_RESPONSES = 987_654_321;
const withNResponsesPlaceholder = (text: string) => text.replaceAll(String(N_RESPONSES), '{N_RESPONSES}');

const judgeSlotPlaceholders: JudgeExample = { instruction: '{instruction}', input: '{input}', outputA: '{output_1}', outputB: '{output_2}' };
const paperShots = [
  { prompt: '{X1}', chosen: '{CHOSEN1}' },
  { prompt: '{X2}', chosen: '{CHOSEN2}' },
];

/** Each template rendered with the paper's placeholder names as arguments. */
const renderedWithPaperPlaceholders: Record<PaperPromptId, () => string | ChatMessage[]> = {
  'G.1': () => personaSelectionPrompt({ axis: '{AXIS}' }),
  'G.2 personal': () => withNResponsesPlaceholder(personalQuestionsPrompt({ name: '{NAME}', nResponses: N_RESPONSES, axes: ['{AXES}'] })),
  'G.2 divergent': () =>
    withNResponsesPlaceholder(
      divergentQuestionsPrompt({ names: ['{NAMES}'], axis: '{AXIS}', personCategories: ['{PERSON_CATEGORIES}'], nResponses: N_RESPONSES }),
    ),
  'G.3': () => cotResponseMessages('{x}'),
  'G.4': () => judgeMessages(Array.from({ length: 5 }, () => judgeSlotPlaceholders)),
  // The paper's G.5 illustration: 2 shots without y_l.
  'G.5': () => personaInferencePrompt({ shots: paperShots, showRejected: false }),
  'G.6': () => goldPersonaPrompt({ name: '{NAME}' }),
  'G.7': () => namePrefixedPrompt({ name: '{NAME}', question: '{x}' }),
  'G.8': () => tagPrefixedPrompt({ tag: '{TAG}', question: '{x}' }),
  'G.9': () => fewShotPrefixedPrompt({ shots: paperShots, question: '{x}' }),
  'G.10': () => personaPrefixedPrompt({ persona: '{PERSONA}', question: '{x}' }),
};

const canonical = (rendered: string | ChatMessage[]) =>
  typeof rendered === 'string' ? canonicalPromptText(rendered) : canonicalMessages(rendered);

/** Replaces the middle word of the text (of the last turn, for a chat) with another word. */
function changeOneWord(rendered: string | ChatMessage[]): string | ChatMessage[] {
  const change = (text: string) => {
    const words = [...text.matchAll(/[A-Za-z]+/g)];
    const middle = words[Math.floor(words.length / 2)];
    if (middle?.index === undefined) throw new Error(`No word to change in "${text}"`);
    return `${text.slice(0, middle.index)}Mutated${text.slice(middle.index + middle[0].length)}`;
  };
  if (typeof rendered === 'string') return change(rendered);
  return rendered.map((message, index) => (index === rendered.length - 1 ? { ...message, content: change(message.content) } : message));
}

const promptIds = Object.keys(PAPER_PROMPT_TITLES) as PaperPromptId[];

describe('the templates against the paper (Appendix G)', () => {
  it.skipIf(paperText === undefined)('has a committed excerpt equal to the paper’s Appendix G lines', () => {
    expect(readAppendixGFixture()).toBe(appendixGPromptLines(paperText ?? ''));
  });

  it.each(promptIds)('%s renders the paper’s prompt', (id) => {
    const mismatch = firstMismatch(extractPaperPrompt(paperSource, id), canonical(renderedWithPaperPlaceholders[id]()));
    expect(mismatch).toBeUndefined();
  });

  it.each(promptIds)('%s: a one-word change in the template is reported', (id) => {
    const mismatch = firstMismatch(extractPaperPrompt(paperSource, id), canonical(changeOneWord(renderedWithPaperPlaceholders[id]())));
    expect(mismatch).toMatch(/word \d+:[\s\S]*template: .*Mutated/);
  });

  it('reports a changed word with its position and context', () => {
    const changed = namePrefixedPrompt({ name: '{NAME}', question: '{x}' }).replace('Cater', 'Tailor');
    expect(firstMismatch(extractPaperPrompt(paperSource, 'G.7'), canonicalPromptText(changed))).toBe(
      [
        'Turn 1 (user), word 8:',
        '  paper:    …Respond to the following prompt from {NAME}. Cater the response to how they might like,…',
        '  template: …Respond to the following prompt from {NAME}. Tailor the response to how they might like,…',
      ].join('\n'),
    );
  });

  it.each(promptIds)('%s leaves no PDF artefact in the extracted prompt', (id) => {
    for (const { text } of extractPaperPrompt(paperSource, id)) {
      expect(text).not.toMatch(/\\|lim_|im_start|im_end|```|<sup>|(?:^| )\d{4} /);
    }
  });
});

describe('the paper-prompt extractor', () => {
  it('repairs the PDF artefacts and splits ChatML into turns', () => {
    const paper = [
      '#### CoT Prompt to sample response',
      '',
      '<lim\\_startl>system',
      'Base your',
      '',
      '- questions on: {N\\_RESPONSES}',
      '<sup>19</sup><https://example.org>',
      '```',
      '{ "a": true }',
      '```',
      '<lim\\_end>',
      '<lim\\_start>user',
      '',
      '{x}',
      '<lim\\_endl>',
      '1554 Running text of the paper.',
    ].join('\n');
    expect(extractPaperPrompt(paper, 'G.3')).toEqual([
      { role: 'system', text: 'Base your questions on: {N_RESPONSES} { "a": true }' },
      { role: 'user', text: '{x}' },
    ]);
  });

  it('needs the heading exactly once', () => {
    expect(() => extractPaperPrompt('no headings here', 'G.1')).toThrow(/found 0/);
  });
});

describe('joinWithAnd', () => {
  it('joins like the authors’ join_names, serial comma included', () => {
    expect(joinWithAnd(['A'])).toBe('A');
    expect(joinWithAnd(['A', 'B'])).toBe('A, and B');
    expect(joinWithAnd(['A', 'B', 'C', 'D'])).toBe('A, B, C, and D');
    expect(() => joinWithAnd([])).toThrow(RangeError);
  });
});

describe('G.2 question prompts', () => {
  it('lists the persona’s axes and the requested count', () => {
    const prompt = personalQuestionsPrompt({ name: 'Halle Berry', nResponses: 20, axes: ['diet: Ketogenic', 'gender: Female'] });
    expect(prompt).toContain('optionally base your questions on: diet: Ketogenic, gender: Female\n');
    expect(prompt).toContain('Provide 20 examples.');
    expect(prompt.endsWith('Now, provide 20 questions that Halle Berry might ask.')).toBe(true);
    expect(() => personalQuestionsPrompt({ name: 'X', nResponses: 0, axes: [] })).toThrow(RangeError);
  });

  it('names the axis members and their categories', () => {
    const members = [
      { name: 'A', category: 'Vegan' },
      { name: 'B', category: 'Keto' },
      { name: 'C', category: 'Paleo' },
    ];
    const prompt = divergentQuestionsPrompt({
      names: members.map(({ name }) => name),
      axis: 'diet',
      personCategories: members.map(personCategoryLabel),
      nResponses: 20,
    });
    expect(prompt).toContain('Given what you know about A, B, and C, what kind');
    expect(prompt).toContain('based on their diet categories: A (Vegan), B (Keto), and C (Paleo), you should');
    expect(prompt.endsWith('questions that A, B, and C might ask IN COMMON.')).toBe(true);
  });
});

describe('G.3 cotResponseMessages', () => {
  it('is the CoT system turn, then the question', () => {
    expect(cotResponseMessages('Why?')).toEqual([
      { role: 'system', content: COT_RESPONSE_SYSTEM },
      { role: 'user', content: 'Why?' },
    ]);
    expect(COT_RESPONSE_SYSTEM).toMatch(/\nAxis: \{axis chosen\}\nCategories: \{list of categories\}\n/);
  });

  it('swaps in the authors\u2019 twenty axes and nothing else when asked', () => {
    const authors = cotResponseSystem('authors');
    expect(authors.replace(COT_AXIS_LISTS.authors, COT_AXIS_LISTS.paper)).toBe(COT_RESPONSE_SYSTEM);
    const listed = /axis:\n\n(.*)\.\n/u.exec(authors)?.[1]?.split(', ') ?? [];
    expect(listed).toHaveLength(20);
    expect(listed).toEqual(expect.arrayContaining(['health', 'economics', 'personal experience', 'culture', 'ethics', 'hobby interest', 'music', 'personalities']));
    expect(cotResponseMessages('Why?', 'authors')[0]).toEqual({ role: 'system', content: authors });
  });
});

describe('G.4 judgeMessages', () => {
  const example = (index: number): JudgeExample => ({
    instruction: judgeInstruction(`Person ${index}`),
    input: `Question ${index}?`,
    outputA: `Answer a${index}.`,
    outputB: `Answer b${index}.`,
  });

  it('takes 1 to 5 examples', () => {
    expect(() => judgeMessages([])).toThrow(RangeError);
    expect(() => judgeMessages(Array.from({ length: 6 }, (_, index) => example(index)))).toThrow(RangeError);
    for (const count of [1, 2, 3, 4, 5]) expect(judgeMessages(Array.from({ length: count }, (_, index) => example(index)))).toHaveLength(4);
  });

  it('numbers fewer than 5 examples from 3 and closes with their range', () => {
    const messages = judgeMessages([example(1), example(2)]);
    expect(messages.slice(0, 3)).toEqual(judgeMessages([example(1)]).slice(0, 3));
    expect(messages[3]).toEqual({
      role: 'user',
      content: [
        'Great! Now I will give you 2 examples in a row.',
        '',
        '## Example 3:',
        '### Instruction for example 3:',
        "Please simulate Person 1's preference over the answers for the questions below.",
        '',
        '### Input for example 3:',
        'Question 1?',
        '',
        '### Output (a) for example 3:',
        'Answer a1.',
        '',
        '### Output (b) for example 3:',
        'Answer b1.',
        '',
        '## Example 4:',
        '### Instruction for example 4:',
        "Please simulate Person 2's preference over the answers for the questions below.",
        '',
        '### Input for example 4:',
        'Question 2?',
        '',
        '### Output (a) for example 4:',
        'Answer a2.',
        '',
        '### Output (b) for example 4:',
        'Answer b2.',
        '',
        '## Preferred output in JSON format for example 3-4:',
      ].join('\n'),
    });
  });

  it('shows verdicts as JSON objects with the two keys the parser reads', () => {
    const verdicts = judgeMessages([example(1)])[2]?.content ?? '';
    const objects = [...verdicts.matchAll(/^\{[\s\S]*?^\}/gm)].map(([json]) => JSON.parse(json) as Record<string, unknown>);
    expect(objects.map((verdict) => Object.keys(verdict))).toEqual([
      [JUDGE_EXPLANATION_KEY, JUDGE_PREFERENCE_KEY],
      [JUDGE_EXPLANATION_KEY, JUDGE_PREFERENCE_KEY],
    ]);
    expect(objects.map((verdict) => verdict[JUDGE_PREFERENCE_KEY])).toEqual([true, false]);
  });
});

describe('G.5 personaInferencePrompt', () => {
  const shots = [
    { prompt: 'x1', chosen: 'yw1', rejected: 'yl1' },
    { prompt: 'x2', chosen: 'yw2', rejected: 'yl2' },
  ];

  it('numbers the shots and shows y_l when asked', () => {
    expect(personaInferencePrompt({ shots, showRejected: true })).toContain(
      '\n\n## User Question 1:\nx1\n### Preferred Response:\nyw1\n### Dispreferred Response:\nyl1\n\n' +
        '## User Question 2:\nx2\n### Preferred Response:\nyw2\n### Dispreferred Response:\nyl2\n\nRespond with two short paragraphs',
    );
    const withoutRejected = personaInferencePrompt({ shots, showRejected: false });
    expect(withoutRejected).toContain('### Preferred Response:\nyw2\n\nRespond with');
    expect(withoutRejected).not.toContain('Dispreferred');
  });

  it('refuses a shot without y_l when y_l is shown, and an empty shot list', () => {
    const missingRejected = [{ prompt: 'x1', chosen: 'yw1', rejected: 'yl1' }, { prompt: 'x2', chosen: 'yw2' }];
    expect(() => personaInferencePrompt({ shots: missingRejected, showRejected: true })).toThrow(/shot 2 has no rejected response/);
    expect(() => personaInferencePrompt({ shots: [], showRejected: false })).toThrow(RangeError);
  });
});

describe('G.7–G.10 prefixed user turns', () => {
  const request = (asker: string, background: string) =>
    `Respond to the following prompt from ${asker}. Cater the response to how they might like, agree with, or be interested in. You may change the style, content, length, vocabulary, opinion, stance, or any relevant aspects of your response based on ${background} background.`;

  it('G.7 puts the name request, a blank line, then the question', () => {
    expect(namePrefixedPrompt({ name: 'Ali Wong', question: 'Q?' })).toBe(`${request('Ali Wong', "Ali Wong's")}\n\nQ?`);
  });

  it('G.8 is the tag, a space, then the question', () => {
    expect(tagPrefixedPrompt({ tag: '<special_person_tag_3>', question: 'question' })).toBe('<special_person_tag_3> question');
  });

  it('G.9 follows the authors’ layout and ends open after "### Preferred Response:"', () => {
    const prompt = fewShotPrefixedPrompt({
      shots: [
        { prompt: 'x1', chosen: 'yw1' },
        { prompt: 'x2', chosen: 'yw2' },
      ],
      question: 'x',
    });
    expect(prompt).toBe(
      `${request('this person', 'their')}\n` +
        '## Prompt:\nx1\n### Preferred Response:\nyw1\n\n' +
        '## Prompt:\nx2\n### Preferred Response:\nyw2\n\n' +
        '## Prompt:\nx\n### Preferred Response:',
    );
    expect(() => fewShotPrefixedPrompt({ shots: [], question: 'x' })).toThrow(RangeError);
  });

  it('G.10 puts the persona, the request and the question apart by blank lines', () => {
    expect(personaPrefixedPrompt({ persona: 'A retired botanist.', question: 'Q?' })).toBe(
      `A retired botanist.\n\n${request('this person', 'their')}\n\nQ?`,
    );
  });
});
