import { stemmer } from 'stemmer';
import { describe, expect, it } from 'vitest';
import { lcsPositions, rouge, rougeLsum, tokenizeForRouge } from '../../src/core/rouge.ts';

// Scores as [precision, recall, f1], to compare whole triples at once.
const triple = ({ precision, recall, f1 }: { precision: number; recall: number; f1: number }) => [precision, recall, f1];
const closeTriple = (values: number[]) => values.map((value) => expect.closeTo(value, 12));

describe('tokenizeForRouge', () => {
  it('lowercases and splits on every character outside [a-z0-9], like rouge_score', () => {
    // The apostrophe splits "it's"; "é" is not in [a-z0-9], so "café" loses it.
    expect(tokenizeForRouge("Hello, World! It's 2024 — café.")).toEqual(['hello', 'world', 'it', 's', '2024', 'caf']);
    expect(tokenizeForRouge('  \n\t ')).toEqual([]);
  });

  it('stems only tokens longer than 3 characters', () => {
    // Porter alone would turn "was" into "wa"; rouge_score leaves 3-letter words alone.
    expect(stemmer('was')).toBe('wa');
    expect(tokenizeForRouge('He was running', { stem: true })).toEqual(['he', 'was', 'run']);
    expect(tokenizeForRouge('He was running')).toEqual(['he', 'was', 'running']);
  });

  it('documents where the stemmer package departs from NLTK’s Porter variant', () => {
    // rouge_score (NLTK 3.10 PorterStemmer) gives ["news", "today"]; the original Porter algorithm does not.
    expect(tokenizeForRouge('news today', { stem: true })).toEqual(['new', 'todai']);
  });
});

describe('rouge', () => {
  it('scores "the cat sat on the mat" vs "the cat lay on a mat"', () => {
    // Reference: the cat sat on the mat (6); prediction: the cat lay on a mat (6).
    // Unigrams: the min(2,1) + cat 1 + on 1 + mat 1 = 4 → P = 4/6, R = 4/6, F1 = 2/3.
    // LCS: the cat on mat = 4 → the same 2/3.
    const scores = rouge('the cat sat on the mat', 'the cat lay on a mat');
    expect(triple(scores.rouge1)).toEqual(closeTriple([2 / 3, 2 / 3, 2 / 3]));
    expect(triple(scores.rougeL)).toEqual(closeTriple([2 / 3, 2 / 3, 2 / 3]));
  });

  it('separates word overlap from word order', () => {
    // Same five words, so ROUGE-1 = 1; the longest common subsequence is "the bit the" = 3 → 3/5.
    const scores = rouge('the dog bit the man', 'the man bit the dog');
    expect(triple(scores.rouge1)).toEqual([1, 1, 1]);
    expect(triple(scores.rougeL)).toEqual(closeTriple([0.6, 0.6, 0.6]));
  });

  it('takes precision against the prediction and recall against the reference', () => {
    // Prediction "the cat sat" (3) is all in the 6-token reference: P = 3/3, R = 3/6, F1 = 2·1·½ / 1½ = 2/3.
    const scores = rouge('the cat sat on the mat', 'the cat sat');
    expect(triple(scores.rouge1)).toEqual(closeTriple([1, 0.5, 2 / 3]));
    expect(triple(scores.rougeL)).toEqual(closeTriple([1, 0.5, 2 / 3]));
  });

  it('clips repeated words to their count in the other text', () => {
    // "the the the" vs "the": one match. P = 1/1, R = 1/3; swapped, P = 1/3, R = 1.
    expect(triple(rouge('the the the', 'the').rouge1)).toEqual(closeTriple([1, 1 / 3, 0.5]));
    expect(triple(rouge('the', 'the the the').rouge1)).toEqual(closeTriple([1 / 3, 1, 0.5]));
  });

  it('matches inflections only with stemming ("running" vs "runs" → run)', () => {
    expect(rouge('running', 'runs').rouge1.f1).toBe(0);
    expect(rouge('running', 'runs', { stem: true }).rouge1.f1).toBe(1);
  });

  it('matches rouge_score on a mixed sentence, with and without stemming', () => {
    // Reference: he was running she runs (5); prediction: he runs and she was running (6).
    // ROUGE-1: all 5 reference words appear → P = 5/6, R = 5/5, F1 = 10/11.
    // ROUGE-L unstemmed: "he was running" = 3 → P = 3/6, R = 3/5, F1 = 6/11.
    // Stemmed, both "run": "he run she run" = 4 → P = 4/6, R = 4/5, F1 = 8/11.
    const reference = 'He was running; she runs.';
    const prediction = 'He runs and she was running!';
    expect(triple(rouge(reference, prediction).rouge1)).toEqual(closeTriple([5 / 6, 1, 10 / 11]));
    expect(triple(rouge(reference, prediction).rougeL)).toEqual(closeTriple([0.5, 0.6, 6 / 11]));
    expect(triple(rouge(reference, prediction, { stem: true }).rougeL)).toEqual(closeTriple([2 / 3, 0.8, 8 / 11]));
  });

  it('matches rouge_score on a persona-style pair', () => {
    // Reference values from rouge_score's tokenize + _score_ngrams + _score_lcs run with NLTK 3.10's PorterStemmer.
    // Unstemmed: 31 reference and 27 prediction tokens; 12 clipped unigram matches (is, values, hard, work,
    // family, and ×2, faith, about, women, equal, pay); LCS 9.
    const gold =
      "Serena Williams is a retired American professional tennis player. She values hard work, family, and her faith as a Jehovah's Witness; she cares about women's health and equal pay.";
    const inferred =
      'This person is an athlete who values discipline and hard work. They care deeply about family, faith and equal pay for women in sports, and enjoy fashion.';
    const plain = rouge(gold, inferred);
    expect(triple(plain.rouge1)).toEqual(closeTriple([12 / 27, 12 / 31, 0.41379310344827586]));
    expect(triple(plain.rougeL)).toEqual(closeTriple([9 / 27, 9 / 31, 0.3103448275862069]));
    // Stemmed, "cares" and "care" also match: 13 unigrams (LCS still 9).
    const stemmed = rouge(gold, inferred, { stem: true });
    expect(triple(stemmed.rouge1)).toEqual(closeTriple([13 / 27, 13 / 31, 0.4482758620689655]));
    expect(triple(stemmed.rougeL)).toEqual(closeTriple([9 / 27, 9 / 31, 0.3103448275862069]));
  });

  it('scores 0 when either text has no tokens', () => {
    const zero = { precision: 0, recall: 0, f1: 0 };
    expect(rouge('', 'the cat')).toEqual({ rouge1: zero, rougeL: zero });
    expect(rouge('the cat', '?!')).toEqual({ rouge1: zero, rougeL: zero });
    expect(rouge('', '')).toEqual({ rouge1: zero, rougeL: zero });
  });

  it('scores identical texts 1', () => {
    const scores = rouge('A persona who loves tennis.', 'a persona, who LOVES tennis');
    expect(scores.rouge1.f1).toBe(1);
    expect(scores.rougeL.f1).toBe(1);
  });
});

describe('rougeLsum', () => {
  // Golden values from rouge_score's own tests (rouge/rouge_scorer_test.py: testLcsTable,
  // testUnionLcs, testRougeLsum), which follow Lin (2004) §3.2's union-LCS example.
  it('traces back the LCS positions rouge_score does, ties stepping up before left', () => {
    expect(lcsPositions(['1', '2', '3', '4', '5'], ['2', '5', '3', '4'])).toEqual([1, 2, 3]);
    expect(lcsPositions(['1', '2', '3', '4', '5'], ['8', '9'])).toEqual([]);
    // Both "a" and "b" are an LCS of length 1; _backtrack_norec moves up on a tie and finds "a".
    expect(lcsPositions(['a', 'b'], ['b', 'a'])).toEqual([0]);
  });

  it('unions the LCS over prediction sentences (Lin 2004 §3.2): recall 4/5, precision 4/10', () => {
    const score = rougeLsum('w1 w2 w3 w4 w5', 'w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5');
    expect(score.recall).toBeCloseTo(0.8, 12);
    expect(score.precision).toBeCloseTo(0.4, 12);
    expect(score.f1).toBeCloseTo((2 * 0.8 * 0.4) / 1.2, 12);
    // On one line it is plain ROUGE-L: LCS(w1 w2 w3 w4 w5, w1 w2 w6 w7 w8 w1 w3 w8 w9 w5) = w1 w2 w3 w5 as well.
    expect(rougeLsum('w1 w2 w3 w4 w5', 'w1 w2 w6 w7 w8 w1 w3 w8 w9 w5').recall).toBeCloseTo(0.8, 12);
  });

  it('counts each token at most as often as both texts hold it, and 0 for empty texts', () => {
    // Reference sentence "a a" against prediction sentences "a" and "a": each traceback starts at
    // the end and finds the second "a", so the union holds one position: 1 hit of 2.
    expect(rougeLsum('a a', 'a\na').recall).toBe(0.5);
    // Two reference sentences each matching the single prediction "a": only one "a" to hit.
    expect(rougeLsum('a\na', 'a')).toEqual({ precision: 1, recall: 0.5, f1: 2 / 3 });
    const zero = { precision: 0, recall: 0, f1: 0 };
    expect(rougeLsum('w1 w2 w3 w4 w5', '')).toEqual(zero);
    expect(rougeLsum('', 'w1')).toEqual(zero);
    expect(rougeLsum('w1 w2 w3 w4 w5', '/')).toEqual(zero);
  });
});
