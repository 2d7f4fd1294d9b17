/**
 * ROUGE-1 and ROUGE-L as computed by Google's `rouge_score` (what HF `evaluate.load("rouge")`
 * wraps), which the paper uses to compare an inferred persona with the gold one (spec §4.7,
 * Table 2 ROUGE-1, Table 11 ROUGE-L). The paper runs it without a stemmer, the default here.
 *
 * Stemming: `rouge_score` uses NLTK's Porter stemmer in its default NLTK_EXTENSIONS mode; the
 * `stemmer` package implements Martin Porter's original algorithm. They agree on about 99% of
 * words; they differ mostly on words ending in -y ("play" → plai here, play in NLTK; "today" →
 * todai) and on NLTK's irregular-form table ("news" → new here, news in NLTK; "dying" → dy vs
 * die). Scores with `stem: true` can therefore differ slightly from `rouge_score(use_stemmer=True)`.
 */
import { stemmer } from 'stemmer';

export interface RougeScore {
  precision: number;
  recall: number;
  f1: number;
}

export interface RougeScores {
  /** Clipped unigram overlap. */
  rouge1: RougeScore;
  /** Longest common subsequence of the token sequences (rouge_score's `_score_lcs`, not Lsum). */
  rougeL: RougeScore;
}

export interface RougeOptions {
  /** Porter-stem tokens longer than 3 characters, like `use_stemmer=True`. Default false, as in the paper. */
  stem?: boolean;
}

// rouge_score stems only longer words, so short function words like "was" or "has" survive intact.
const MIN_STEMMED_LENGTH = 4;

/**
 * rouge_score's tokenizer: lowercase, every run of characters outside [a-z0-9] becomes a space
 * (so accented letters and apostrophes split words: "it's" → it, s), split on whitespace,
 * optionally stem. No stopword removal.
 */
export function tokenizeForRouge(text: string, { stem = false }: RougeOptions = {}): string[] {
  const tokens = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(' ')
    .filter((token) => token.length > 0);
  return stem ? tokens.map((token) => (token.length >= MIN_STEMMED_LENGTH ? stemmer(token) : token)) : tokens;
}

/**
 * ROUGE-1 and ROUGE-L of a prediction against a reference, in rouge_score's argument order
 * (target first). Precision is relative to the prediction, recall to the reference; when either
 * text has no tokens every score is 0.
 */
export function rouge(reference: string, prediction: string, options: RougeOptions = {}): RougeScores {
  const referenceTokens = tokenizeForRouge(reference, options);
  const predictionTokens = tokenizeForRouge(prediction, options);
  return {
    rouge1: scoreFromMatches(clippedUnigramMatches(referenceTokens, predictionTokens), referenceTokens, predictionTokens),
    rougeL: scoreFromMatches(longestCommonSubsequenceLength(referenceTokens, predictionTokens), referenceTokens, predictionTokens),
  };
}

function scoreFromMatches(matches: number, referenceTokens: readonly string[], predictionTokens: readonly string[]): RougeScore {
  if (referenceTokens.length === 0 || predictionTokens.length === 0) return { precision: 0, recall: 0, f1: 0 };
  const precision = matches / predictionTokens.length;
  const recall = matches / referenceTokens.length;
  return { precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
}

/** Σ over reference words of min(count in reference, count in prediction). */
function clippedUnigramMatches(referenceTokens: readonly string[], predictionTokens: readonly string[]): number {
  const unmatchedInPrediction = new Map<string, number>();
  for (const token of predictionTokens) unmatchedInPrediction.set(token, (unmatchedInPrediction.get(token) ?? 0) + 1);
  let matches = 0;
  for (const token of referenceTokens) {
    const available = unmatchedInPrediction.get(token) ?? 0;
    if (available > 0) {
      matches++;
      unmatchedInPrediction.set(token, available - 1);
    }
  }
  return matches;
}

/** Classic O(m·n) dynamic programme, keeping one row: persona texts are a few hundred words. */
function longestCommonSubsequenceLength(referenceTokens: readonly string[], predictionTokens: readonly string[]): number {
  let previousRow = new Uint32Array(predictionTokens.length + 1);
  let currentRow = new Uint32Array(predictionTokens.length + 1);
  for (const referenceToken of referenceTokens) {
    for (let j = 1; j <= predictionTokens.length; j++) {
      currentRow[j] =
        referenceToken === predictionTokens[j - 1]
          ? (previousRow[j - 1] as number) + 1
          : Math.max(previousRow[j] as number, currentRow[j - 1] as number);
    }
    [previousRow, currentRow] = [currentRow, previousRow];
  }
  return previousRow[predictionTokens.length] as number;
}
