import { describe, expect, it } from 'vitest';
import { zephyrTemplate } from '../../src/core/chatTemplate.ts';
import { planScoring, scoringTexts, splitAtBoundary, truncateAnswers } from '../../src/core/scoringInput.ts';
import { toyTokenizer } from '../support/toyTokenizer.ts';

const BOS = 1;
const EOS = 2;

describe('scoringTexts', () => {
  it('authors: prompt is the user turn, answer is <|assistant|>\\n{y}</s> without the trailing newline', () => {
    expect(scoringTexts('Q?', 'A.', 'authors', zephyrTemplate)).toEqual({
      prompt: '<|user|>\nQ?</s>\n',
      answer: '<|assistant|>\nA.</s>',
    });
  });

  it('clean: prompt ends with the generation prompt, answer is the response alone', () => {
    expect(scoringTexts('Q?', 'A.', 'clean', zephyrTemplate)).toEqual({
      prompt: '<|user|>\nQ?</s>\n<|assistant|>\n',
      answer: 'A.',
    });
  });
});

describe('splitAtBoundary', () => {
  it('without a merge, the answer starts right after the prompt tokens', () => {
    expect(splitAtBoundary([5, 6], [5, 6, 7, 8])).toEqual({ promptIds: [5, 6], answerIds: [7, 8], merged: false });
  });

  it('when the last prompt token merges across the join, the answer starts one token earlier', async () => {
    const tok = toyTokenizer(['x', 'a', 'b', 'c', 'ab']);
    const promptOnly = await tok.encode('xa');
    const full = await tok.encode('xabc');
    expect(full).toEqual([tok.ids.get('x'), tok.ids.get('ab'), tok.ids.get('c')]);
    expect(splitAtBoundary(promptOnly, full)).toEqual({
      promptIds: [tok.ids.get('x')],
      answerIds: [tok.ids.get('ab'), tok.ids.get('c')],
      merged: true,
    });
  });
});

describe('truncateAnswers', () => {
  const limits = { maxLength: 10, maxPromptLength: 6 };
  const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

  it('leaves pairs within the limit alone', () => {
    const answers = [{ promptIds: range(0, 4), answerIds: range(100, 6), merged: false }];
    expect(truncateAnswers(answers, limits)).toEqual({ answers, truncated: { prompt: false, answers: false } });
  });

  it('keeps the prompt end, decided by the longer answer for both answers', () => {
    const prompt = range(0, 8);
    const { answers, truncated } = truncateAnswers(
      [
        { promptIds: prompt, answerIds: range(100, 1), merged: false },
        { promptIds: prompt, answerIds: range(200, 4), merged: false },
      ],
      limits,
    );
    expect(answers.map((a) => a.promptIds)).toEqual([range(2, 6), range(2, 6)]);
    expect(answers.map((a) => a.answerIds)).toEqual([range(100, 1), range(200, 4)]);
    expect(truncated).toEqual({ prompt: true, answers: false });
  });

  it('then cuts answers to maxLength - maxPromptLength', () => {
    const { answers, truncated } = truncateAnswers([{ promptIds: range(0, 8), answerIds: range(100, 9), merged: false }], limits);
    expect(answers[0]).toEqual({ promptIds: range(2, 6), answerIds: range(100, 4), merged: false });
    expect(truncated).toEqual({ prompt: true, answers: true });
  });
});

describe('planScoring', () => {
  const tok = toyTokenizer(['<|user|>', '<|assistant|>', '</s>', '\n', 'Q', 'A', 'B', ' ', '?', 'x', 'y']);
  const pieces = (...p: string[]) => p.map((s) => tok.ids.get(s) as number);

  it('authors: BOS + user turn as prompt; <|assistant|>\\n…</s> + EOS scored, two EOS at the end', async () => {
    const plan = await planScoring(tok.encode, 'Q?', ['A', 'B'], {
      convention: 'authors',
      template: zephyrTemplate,
      special: { bos: BOS, eos: EOS },
    });
    expect(plan.sharedPromptIds).toEqual([BOS, ...pieces('<|user|>', '\n', 'Q', '?', '</s>', '\n')]);
    expect(plan.continuations).toEqual([
      [...pieces('<|assistant|>', '\n', 'A', '</s>'), EOS],
      [...pieces('<|assistant|>', '\n', 'B', '</s>'), EOS],
    ]);
    expect(plan.answers.map((a) => a.answerIds)).toEqual(plan.continuations);
    expect(plan.truncated).toEqual({ prompt: false, answers: false });
  });

  it('clean: the generation prompt is context, the response + EOS is scored', async () => {
    const plan = await planScoring(tok.encode, 'Q', ['A'], { convention: 'clean', template: zephyrTemplate, special: { bos: BOS, eos: EOS } });
    expect(plan.sharedPromptIds).toEqual([BOS, ...pieces('<|user|>', '\n', 'Q', '</s>', '\n', '<|assistant|>', '\n')]);
    expect(plan.continuations).toEqual([[...pieces('A'), EOS]]);
  });

  it('when only one answer merges across the boundary, the shared prompt is the common prefix', async () => {
    const merging = toyTokenizer(['<|user|>', '<|assistant|>', '</s>', '\n', 'Q', 'A', 'B', '\nA']);
    const plan = await planScoring(merging.encode, 'Q', ['A', 'B'], { convention: 'clean', template: zephyrTemplate, special: { bos: BOS, eos: EOS } });
    const id = (s: string) => merging.ids.get(s) as number;
    expect(plan.answers[0]?.merged).toBe(true);
    expect(plan.answers[1]?.merged).toBe(false);
    expect(plan.sharedPromptIds).toEqual([BOS, id('<|user|>'), id('\n'), id('Q'), id('</s>'), id('\n'), id('<|assistant|>')]);
    expect(plan.answers[0]?.answerIds).toEqual([id('\nA'), EOS]);
    expect(plan.continuations).toEqual([[id('\nA'), EOS], [id('\n'), id('B'), EOS]]);
  });
});
