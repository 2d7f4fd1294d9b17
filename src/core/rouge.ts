/**
 * ROUGE-1, ROUGE-L and ROUGE-Lsum as computed by Google's `rouge_score` (what HF
 * `evaluate.load("rouge")` wraps), which the paper uses to compare an inferred persona with the
 * gold one (spec §4.7, Table 2 ROUGE-1, Table 11 ROUGE-L) and a prefix with its shuffled
 * counterpart (Table 13, ROUGE-Lsum). The paper runs it without a stemmer, the default here.
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

/**
 * ROUGE-Lsum as rouge_score computes it (`_summary_level_lcs`): both texts are split into
 * sentences on newlines (empty lines dropped), and for each reference sentence the union of its
 * LCS with every prediction sentence counts as hits, each token at most as often as it occurs in
 * either text. Recall = hits / reference tokens, precision = hits / prediction tokens.
 */
export function rougeLsum(reference: string, prediction: string, options: RougeOptions = {}): RougeScore {
  const sentences = (text: string) =>
    text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => tokenizeForRouge(line, options));
  const referenceSentences = sentences(reference);
  const predictionSentences = sentences(prediction);
  const referenceTokens = referenceSentences.flat();
  const predictionTokens = predictionSentences.flat();
  if (referenceTokens.length === 0 || predictionTokens.length === 0) return { precision: 0, recall: 0, f1: 0 };
  const unusedInReference = tokenCounts(referenceTokens);
  const unusedInPrediction = tokenCounts(predictionTokens);
  let hits = 0;
  for (const sentence of referenceSentences) {
    for (const token of unionLcs(sentence, predictionSentences)) {
      const inReference = unusedInReference.get(token) ?? 0;
      const inPrediction = unusedInPrediction.get(token) ?? 0;
      if (inReference > 0 && inPrediction > 0) {
        hits++;
        unusedInReference.set(token, inReference - 1);
        unusedInPrediction.set(token, inPrediction - 1);
      }
    }
  }
  return scoreFromMatches(hits, referenceTokens, predictionTokens);
}

function tokenCounts(tokens: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
  return counts;
}

/** The reference tokens in the union of the LCS positions against each candidate, in reference order. */
function unionLcs(reference: readonly string[], candidates: readonly (readonly string[])[]): string[] {
  const positions = new Set<number>();
  for (const candidate of candidates) for (const position of lcsPositions(reference, candidate)) positions.add(position);
  return [...positions].sort((a, b) => a - b).map((position) => reference[position] as string);
}

/**
 * Reference positions of one LCS, traced back through the full table as rouge_score's
 * `_backtrack_norec` does (which LCS is found decides the union, so the tie-breaking matters:
 * step left only when the cell to the left is strictly larger than the one above).
 */
export function lcsPositions(reference: readonly string[], candidate: readonly string[]): number[] {
  const rows = reference.length + 1;
  const columns = candidate.length + 1;
  const table = new Uint32Array(rows * columns);
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < columns; j++) {
      table[i * columns + j] =
        reference[i - 1] === candidate[j - 1]
          ? (table[(i - 1) * columns + j - 1] as number) + 1
          : Math.max(table[(i - 1) * columns + j] as number, table[i * columns + j - 1] as number);
    }
  }
  const positions: number[] = [];
  let i = reference.length;
  let j = candidate.length;
  while (i > 0 && j > 0) {
    if (reference[i - 1] === candidate[j - 1]) {
      positions.push(i - 1);
      i--;
      j--;
    } else if ((table[i * columns + j - 1] as number) > (table[(i - 1) * columns + j] as number)) {
      j--;
    } else {
      i--;
    }
  }
  return positions.reverse();
}
