/**
 * Flags the `eval` commands share (output folder and seed, engine opening, prefix building) and
 * the argument parsers they use; each subcommand adds the groups it needs.
 */
import type { Command} from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { parsePrefixList, type EvalPrefix } from '../../../src/core/eval/prefixes.ts';
import { parseInteger } from '../../lib/cliInput.ts';
import type { EngineOpenOptions } from '../../lib/eval/engines/registry.ts';
import { MAX_PERSONA_SHOTS, PERSONA_INFERENCE_DEFAULTS, PersonaPromptVariant, type PersonaInferenceSettings } from '../../../src/core/personaInference.ts';
import { DEFAULT_SEED } from '../../lib/eval/report.ts';
import { Aggregation } from '../../../src/core/aggregate.ts';
import { AppError } from '../../../src/core/errors.ts';
import { AUTHORS_LIMITS, Convention, type TruncationLimits } from '../../../src/core/scoringInput.ts';

export interface CommonOptions {
  out: string;
  seed: number;
  quiet?: boolean;
}

export interface EngineFlags {
  device: EngineOpenOptions['device'];
  dtype: EngineOpenOptions['dtype'];
  apiKeyEnv?: string;
  chatTemplate?: string;
  bosTokenId?: number;
  eosTokenId?: number;
}

export interface PersonaDecodingFlags {
  personaMaxTokens: number;
  personaTemperature: number;
  personaTopK: number;
  personaPrompt: PersonaPromptVariant;
}

export interface PrefixFlags extends PersonaDecodingFlags {
  prefixFile?: string;
  personaModel?: string;
  personaShots: number;
}

export interface ScoringFlags {
  convention: Convention;
  norm: Aggregation;
  truncation: boolean;
  maxLength: number;
  maxPromptLength: number;
}

/** How pairs are scored: convention, aggregation and the authors' truncation (as `eval` scores them). */
export function addScoringOptions(command: Command, normHelp = 'aggregation of token log-probs'): void {
  command
    .addOption(new Option('--convention <name>', 'scoring convention').choices(Convention.options).default('authors'))
    .addOption(new Option('--norm <how>', normHelp).choices(Aggregation.options).default('mean'))
    .option('--no-truncation', 'score whole sequences (only the context window limits them)')
    .option('--max-length <n>', 'prompt + longer answer, in tokens', parseInteger, AUTHORS_LIMITS.maxLength)
    .option('--max-prompt-length <n>', 'prompt tokens kept (from the end) when too long', parseInteger, AUTHORS_LIMITS.maxPromptLength);
}

/** The truncation limits the flags ask for (null: none), refusing a prompt limit that leaves no room for answers. */
export function scoringLimits(options: ScoringFlags): TruncationLimits | null {
  if (!options.truncation) return null;
  if (options.maxPromptLength >= options.maxLength) {
    throw new AppError('invalid-input', `--max-prompt-length (${options.maxPromptLength}) must be below --max-length (${options.maxLength}).`);
  }
  return { maxLength: options.maxLength, maxPromptLength: options.maxPromptLength };
}

export function addCommonOptions(command: Command): void {
  command.option('--seed <n>', 'seed for shots, shuffles, random partners and bootstrap (the authors: 24)', parseInteger, DEFAULT_SEED).option('--quiet', 'no progress output (warnings still printed)');
}

export function addEngineOptions(command: Command): void {
  command
    .addOption(new Option('--device <device>', 'ONNX Runtime device for local: engines').choices(['cpu', 'cuda']).default('cpu'))
    .addOption(new Option('--dtype <dtype>', 'weights file for local: engines').choices(['fp32', 'fp16', 'q8', 'q4']).default('fp32'))
    .option('--api-key-env <name>', 'environment variable holding the API key for openai: specs (never stored)')
    .option('--chat-template <zephyr|file>', "openai: specs: the served model's chat template (its tokenizer_config.json or a Jinja file), when the server cannot report it; checked against the server")
    .option('--bos-token-id <n>', 'openai: specs: the BOS token id (learned from the server when absent, checked when given)', parseNonNegative)
    .option('--eos-token-id <n>', 'openai: specs: the EOS token id (learned from the server when absent, checked when given)', parseNonNegative);
}

export function addPrefixOptions(command: Command): void {
  command
    .option('--prefix-file <file>', 'reuse prefix texts from a prefix file written by an earlier eval')
    .option('--persona-model <spec>', 'the API role writing persona-gpt4 (G.5) and gold (G.6) texts: openai:<baseUrl>#<model>')
    .option('--persona-shots <n>', `train pairs shown for persona inference (the paper: 4; at most ${MAX_PERSONA_SHOTS})`, parseShots, PERSONA_INFERENCE_DEFAULTS.shots);
  addPersonaDecodingOptions(command);
}

/** How a persona is inferred (G.5's layout and decoding), for every command that infers one. */
export function addPersonaDecodingOptions(command: Command): void {
  command
    .option('--persona-max-tokens <n>', 'persona text length (the paper: 512)', parsePositive, PERSONA_INFERENCE_DEFAULTS.maxNewTokens)
    .option('--persona-temperature <t>', 'persona sampling temperature (the paper: 1.0)', parseNumber, PERSONA_INFERENCE_DEFAULTS.temperature)
    .option('--persona-top-k <k>', 'persona top-k for the evaluated engine (Hugging Face generate\u2019s default the authors ran with: 50; 0 = off)', parseNonNegative, PERSONA_INFERENCE_DEFAULTS.topK)
    .addOption(
      new Option('--persona-prompt <variant>', 'G.5 shots as the paper prints them (x, y_w) or as the authors\u2019 code builds them (x, y_w, y_l)')
        .choices(PersonaPromptVariant.options)
        .default(PERSONA_INFERENCE_DEFAULTS.variant),
    );
}

export function engineOptions(options: EngineFlags): EngineOpenOptions {
  const { device, dtype, apiKeyEnv, chatTemplate, bosTokenId, eosTokenId } = options;
  return {
    device,
    dtype,
    ...(apiKeyEnv ? { apiKeyEnv } : {}),
    ...(chatTemplate ? { chatTemplate } : {}),
    ...(bosTokenId === undefined ? {} : { bosTokenId }),
    ...(eosTokenId === undefined ? {} : { eosTokenId }),
  };
}

export function personaGeneration(options: PrefixFlags): PersonaInferenceSettings {
  return { ...personaDecoding(options), shots: options.personaShots };
}

/** The inference settings but the number of shots (which a command decides). */
export function personaDecoding(options: PersonaDecodingFlags): Omit<PersonaInferenceSettings, 'shots'> {
  return {
    variant: options.personaPrompt,
    maxNewTokens: options.personaMaxTokens,
    temperature: options.personaTemperature,
    topP: PERSONA_INFERENCE_DEFAULTS.topP,
    topK: options.personaTopK,
  };
}

export function parsePrefixes(value: string): EvalPrefix[] {
  try {
    return parsePrefixList(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function parsePositive(value: string): number {
  const parsed = parseInteger(value);
  if (parsed < 1) throw new InvalidArgumentError('expected a positive whole number.');
  return parsed;
}

function parseShots(value: string): number {
  const parsed = parsePositive(value);
  if (parsed > MAX_PERSONA_SHOTS) throw new InvalidArgumentError(`expected at most ${MAX_PERSONA_SHOTS}.`);
  return parsed;
}

export function parseNonNegative(value: string): number {
  const parsed = parseInteger(value);
  if (parsed < 0) throw new InvalidArgumentError('expected a non-negative whole number.');
  return parsed;
}

export function parseNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new InvalidArgumentError('expected a non-negative number.');
  return parsed;
}
