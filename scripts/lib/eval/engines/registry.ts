/**
 * Engine specs on the command line (`--engine`, `--persona-model`, `--judge`) and the engines they
 * open: one adapter per kind (local.ts, openai.ts, webllm.ts, browser.ts), registered here. A new
 * kind is one adapter file and one line in ENGINE_ADAPTERS; the registry's type refuses an adapter
 * whose spec does not carry its own kind.
 *
 * Failures handled: an unknown kind, a body that does not fit the kind's syntax and an unknown or
 * invalid `?name=value` option are AppError 'invalid-input' naming the spec and how to write it.
 */
import { AppError } from '../../../../src/core/errors.ts';
import type { Engine } from '../../../../src/core/engine.ts';
import type { Reporter } from '../../reporter.ts';
import type { EngineAdapter, EngineOpenOptions, SpecBase } from './adapter.ts';
import { browserAdapter } from './browser.ts';
import { localAdapter } from './local.ts';
import { openAiAdapter } from './openai.ts';
import { webLlmAdapter } from './webllm.ts';

export type { EngineOpenOptions } from './adapter.ts';

export const ENGINE_KINDS = ['local', 'openai', 'webllm', 'browser'] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];

const ENGINE_ADAPTERS = {
  local: localAdapter,
  openai: openAiAdapter,
  webllm: webLlmAdapter,
  browser: browserAdapter,
} satisfies { [Kind in EngineKind]: EngineAdapter<{ kind: Kind; text: string }> };

type SpecOf<Adapter> = Adapter extends EngineAdapter<infer Spec> ? Spec : never;
type SpecsByKind = { [Kind in EngineKind]: SpecOf<(typeof ENGINE_ADAPTERS)[Kind]> };
/** A parsed `--engine` value: its kind, its fields and options, and the text it was written as. */
export type CliEngineSpec = SpecsByKind[EngineKind];

/** The registry typed per kind, so a spec reaches the adapter of its own kind without a cast. */
const adapters: { [Kind in EngineKind]: EngineAdapter<SpecsByKind[Kind]> } = ENGINE_ADAPTERS;

/** Every kind's syntax, e.g. for an option's help. */
export const ENGINE_SPEC_SYNTAX = ENGINE_KINDS.map((kind) => adapters[kind].syntax)
  .join(', ')
  .replace(/, (?=[^,]*$)/, ' or ');

function isEngineKind(kind: string): kind is EngineKind {
  return (ENGINE_KINDS as readonly string[]).includes(kind);
}

export function parseEngineSpec(text: string): CliEngineSpec {
  const colon = text.indexOf(':');
  const kind = colon === -1 ? '' : text.slice(0, colon);
  if (!isEngineKind(kind)) throw new AppError('invalid-input', `Engine "${text}": expected ${ENGINE_SPEC_SYNTAX}.`);
  return parseAs(kind, text.slice(colon + 1), text);
}

function parseAs<Kind extends EngineKind>(kind: Kind, body: string, text: string): SpecsByKind[Kind] {
  return parseWith(adapters[kind], kind, body, text);
}

/** One adapter's spec from the text after `<kind>:`; exported so the option rules can be tested on any adapter. */
export function parseWith<Spec extends SpecBase>(adapter: EngineAdapter<Spec>, kind: string, body: string, text: string): Spec {
  const query = body.indexOf('?');
  const options = query === -1 ? {} : Object.fromEntries(new URLSearchParams(body.slice(query + 1)));
  const fields = adapter.fields(query === -1 ? body : body.slice(0, query));
  const usage = `Engine "${text}": write ${adapter.syntax}, e.g. ${adapter.example}.`;
  if (!fields) throw new AppError('invalid-input', usage);
  const parsed = adapter.spec.safeParse({ ...options, ...fields, kind, text });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const known = Object.keys(adapter.spec.shape).filter((name) => !(name in fields) && name !== 'kind' && name !== 'text');
    throw new AppError('invalid-input', `Engine "${text}": unknown option ${issue.keys.map((key) => `"${key}"`).join(', ')}; ${kind}: takes ${known.length > 0 ? known.join(', ') : 'no options'}.`);
  }
  const name = issue?.path[0];
  if (typeof name === 'string' && name in options && !(name in fields)) {
    throw new AppError('invalid-input', `Engine "${text}": option "${name}": ${issue?.message ?? 'invalid'}.`);
  }
  throw new AppError('invalid-input', usage);
}

export function openEngine(spec: CliEngineSpec, options: EngineOpenOptions, reporter: Reporter): Promise<Engine> {
  return openAs(spec.kind, spec, options, reporter);
}

function openAs<Kind extends EngineKind>(kind: Kind, spec: SpecsByKind[Kind], options: EngineOpenOptions, reporter: Reporter): Promise<Engine> {
  return adapters[kind].open(spec, options, reporter);
}
