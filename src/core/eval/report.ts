/**
 * The report data model: everything `summary.json`, `report.md` and `report.html` show, in one
 * value assembled from the run's files (pairs, persona quality, generations). Each section is
 * present only when its data exists, so one output folder grows a fuller report as `eval`,
 * `eval personas` and `eval generations` write into it.
 */
import type { GenerationsSummary } from './generations.ts';
import type { PersonaQuality } from './personaQuality.ts';
import type { ProvenanceEntry } from './provenance.ts';
import type { AgreementSummary } from './agreementSummary.ts';
import type { ElicitationSummary } from '../elicitation/replaySummary.ts';
import type { PrefixOverlap } from './prefixOverlap.ts';
import type { SafetySummary } from './safety.ts';
import type { PairsSummary } from './summary.ts';

export interface RunInfo {
  engine?: { spec: string; backend: string; model: string; method: string };
  /** A fold-routed run: fold → engine spec. */
  folds?: Record<string, string>;
  dataset?: { source: string; fingerprint: string; pairs: number; personas: number };
  settings?: Record<string, unknown>;
  promptsVersion: string;
}

export interface EvalReport {
  title: string;
  run: RunInfo;
  pairs?: PairsSummary;
  /** Who wrote the prefix texts the run scored, and from which file. */
  provenance?: { source: string; entries: ProvenanceEntry[] };
  personas?: PersonaQuality & { source: string };
  /** Table 13: ROUGE-Lsum of each prefix against its shuffled counterpart; `source` says where the shuffle came from. */
  overlap?: PrefixOverlap & { source: string };
  generations?: GenerationsSummary & { judge: string };
  /** `eval safety` (Figure 7): the RewardBench file, the aggregation and the engines (fold → spec). */
  safety?: SafetySummary & { source: string; norm: string; engines: Record<string, string> };
  /** `eval agreement` (App. D, Table 6): the labels file compared. */
  agreement?: AgreementSummary & { source: string };
  /** `eval elicitation` (issue 13): accuracy against answered questions per strategy, with what was replayed and how. */
  elicitation?: ElicitationSummary & ElicitationRunInfo;
}

export interface ElicitationRunInfo {
  source: string;
  engine: string;
  budget: number;
  repeats: number;
  personas: string[];
  /** How margins and accuracy were scored, and how personas were inferred. */
  settings: Record<string, unknown>;
}

/** The sections a report has, in display order: what the report promises to show. */
export const REPORT_SECTIONS = ['accuracy', 'figure5', 'appendixL', 'sensitivity', 'figure6', 'prefixGain', 'provenance', 'personas', 'overlap', 'generations', 'safety', 'agreement', 'elicitation', 'failures'] as const;
export type ReportSection = (typeof REPORT_SECTIONS)[number];

export function reportSections(report: EvalReport): ReportSection[] {
  const present: Record<ReportSection, boolean> = {
    accuracy: (report.pairs?.accuracy.length ?? 0) > 0,
    sensitivity: (report.pairs?.sensitivity.length ?? 0) > 0,
    figure5: (report.pairs?.folds?.figure5.length ?? 0) > 0,
    appendixL: (report.pairs?.folds?.appendixL.length ?? 0) > 0,
    figure6: (report.pairs?.figure6?.length ?? 0) > 0,
    prefixGain: (report.pairs?.prefixGain.length ?? 0) > 0,
    provenance: (report.provenance?.entries.length ?? 0) > 0,
    personas: report.personas !== undefined,
    overlap: (report.overlap?.columns.length ?? 0) > 0,
    generations: report.generations !== undefined,
    safety: (report.safety?.entries.length ?? 0) > 0,
    agreement: report.agreement !== undefined,
    elicitation: report.elicitation !== undefined,
    failures: (report.pairs?.failures.length ?? 0) + (report.generations?.failures.length ?? 0) + (report.safety?.failures.length ?? 0) > 0,
  };
  return REPORT_SECTIONS.filter((section) => present[section]);
}

/** JSON with NaN and ±Infinity as null (JSON has neither), two-space indented. */
export function reportJson(value: unknown): string {
  return `${JSON.stringify(value, (_key, item: unknown) => (typeof item === 'number' && !Number.isFinite(item) ? null : item), 2)}\n`;
}
