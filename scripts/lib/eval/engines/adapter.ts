/**
 * The contract of one command-line engine adapter (`local:`, `openai:`, `webllm:`, `browser:`):
 * how its spec is written, the zod schema of the parsed spec, and the factory that opens it.
 *
 * A spec is `<kind>:<body>[?name=value&…]`. The adapter splits the body into its fields (its own
 * small grammar: a folder, `<baseUrl>#<model>`, `<id>@<device>`); the `?` options join them, and
 * the adapter's strict schema checks both. Adding an option to an adapter is one schema field
 * (values arrive as strings: use `z.coerce.number()` and the like) and its use in `open`.
 */
import type { z } from 'zod';
import type { Engine } from '../../../../src/core/engine.ts';
import type { Reporter } from '../../reporter.ts';

/** Command-line flags every adapter may use when opening an engine. */
export interface EngineOpenOptions {
  device: 'cpu' | 'cuda';
  dtype: 'fp32' | 'fp16' | 'q8' | 'q4';
  /** false: every answer scored from scratch (the naive path the benchmark compares with). */
  promptCache?: boolean;
  /** Name of the environment variable holding an API key for openai: specs. */
  apiKeyEnv?: string;
  /** openai: specs, when the server cannot tell: `zephyr` or a tokenizer_config.json / Jinja file (chatTemplateSetting.ts). */
  chatTemplate?: string;
  bosTokenId?: number;
  eosTokenId?: number;
}

/** Every parsed spec names its adapter and keeps the text it was written as (recorded in manifests). */
export interface SpecBase {
  kind: string;
  text: string;
}

export interface EngineAdapter<Spec extends SpecBase> {
  /** How the spec is written, e.g. `openai:<baseUrl>#<model>`: shown in help and errors. */
  readonly syntax: string;
  /** A spec that works, for error messages. */
  readonly example: string;
  /** The parsed spec, strict: `kind`, `text`, the body's fields and the adapter's options. */
  readonly spec: z.ZodType<Spec> & { readonly shape: Readonly<Record<string, unknown>> };
  /** The body (after `<kind>:`, options removed) as the spec's fields; undefined when it does not fit `syntax`. */
  fields(body: string): Record<string, string> | undefined;
  /** Opens the engine; heavy modules (ONNX Runtime, the OpenAI SDK, Playwright) are imported here, when used. */
  open(spec: Spec, options: EngineOpenOptions, reporter: Reporter): Promise<Engine>;
}
