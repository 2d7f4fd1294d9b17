/**
 * Flags the `eval` commands share (output folder and seed, engine opening, prefix building) and
 * the argument parsers they use; each subcommand adds the groups it needs.
 */
import type { Command} from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { parsePrefixList, type EvalPrefix } from '../../../src/core/eval/prefixes.ts';
import { parseInteger } from '../../lib/cliInput.ts';
import type { EngineOpenOptions } from '../../lib/eval/engines/registry.ts';
import { AUTHORS_PERSONA_GENERATION } from '../../lib/eval/prefixBuilder.ts';
import { DEFAULT_SEED } from '../../lib/eval/report.ts';

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

export interface PrefixFlags {
  prefixFile?: string;
  personaModel?: string;
  personaMaxTokens: number;
  personaTemperature: number;
  personaShots: number;
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
    .option('--persona-max-tokens <n>', 'persona text length (the authors: 512)', parsePositive, AUTHORS_PERSONA_GENERATION.maxNewTokens)
    .option('--persona-temperature <t>', 'persona sampling temperature (the authors: 1.0)', parseNumber, AUTHORS_PERSONA_GENERATION.temperature)
    .option('--persona-shots <n>', 'train pairs shown for persona inference (the authors: 4, with y_l)', parsePositive, AUTHORS_PERSONA_GENERATION.shots);
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

export function personaGeneration(options: PrefixFlags) {
  return { maxNewTokens: options.personaMaxTokens, temperature: options.personaTemperature, shots: options.personaShots };
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
