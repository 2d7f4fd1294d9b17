/**
 * The build-dataset configuration (a JSON file): every pipeline parameter with the authors' default
 * (spec §2), the people, the seed, and which model plays each role. Parsed with zod; an invalid file
 * is reported as one line per problem, "field.path: expected …, got …", so it can be fixed without
 * reading this file. Unknown fields are errors (a misspelt "temprature" must not silently fall back
 * to a default).
 *
 * Roles: `generator` writes questions (and personas), `judge` labels preferences (GPT-4 in the
 * paper), `baseline` samples the candidate answers (Zephyr-7B-beta), `reward` scores answers for the
 * reward window (FsfairX-LLaMA3-RM), `embedder` embeds them for k-means (sentence-t5-xxl). Chat roles
 * are an OpenAI-compatible endpoint or a local Transformers.js model folder.
 */
import { z } from 'zod';
import type { CotAxisList } from '../prompts.ts';
import { expectation } from '../schema.ts';
import { isPowerOfTwo } from './bracket.ts';
import { AXES, DEFAULT_CV_FOLD_COUNT } from './roster.ts';

const text = (what = 'a non-empty string') =>
  z.string({ error: (issue) => expectation(what, issue.input) }).min(1, { error: `expected ${what}, got an empty string` });

const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .number({ error: (issue) => expectation('a number', issue.input) })
    .refine((value) => Number.isInteger(value) && value >= min && value <= max, {
      error: (issue) => `expected a whole number ${max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`}, got ${String(issue.input)}`,
    });

const realNumber = (min: number, max: number, what: string) =>
  z.number({ error: (issue) => expectation(what, issue.input) }).refine((value) => value >= min && value <= max, {
    error: (issue) => `expected ${what}, got ${String(issue.input)}`,
  });

const url = (example: string) =>
  z
    .string({ error: (issue) => expectation(`a URL such as "${example}"`, issue.input) })
    .refine((value) => /^https?:\/\/[^\s/]+/u.test(value), {
      error: (issue) => `expected an http(s) URL such as "${example}", got ${JSON.stringify(issue.input)}`,
    });

function oneOf<const Values extends readonly [string, ...string[]]>(values: Values) {
  const list = values.map((value) => JSON.stringify(value)).join(', ');
  return z.enum(values, { error: (issue) => `expected one of ${list}, got ${JSON.stringify(issue.input)}` });
}

/** USD per million tokens, for the cost estimate and the end-of-run report. */
export const Pricing = z.strictObject({
  promptPerMillion: realNumber(0, 1e6, 'a price in USD per million prompt tokens (≥ 0)'),
  completionPerMillion: realNumber(0, 1e6, 'a price in USD per million completion tokens (≥ 0)'),
});
export type Pricing = z.infer<typeof Pricing>;

const LocalModelOptions = {
  model: text('a model folder path (relative to the config file) or a hub id'),
  device: oneOf(['cpu', 'cuda']).default('cpu'),
  dtype: oneOf(['fp32', 'fp16', 'q8', 'q4']).default('fp32'),
};

export const OpenAiChatRole = z.strictObject({
  type: z.literal('openai'),
  baseUrl: url('https://api.openai.com/v1'),
  model: text('a model name such as "gpt-4-0613"'),
  /** Name of the environment variable holding the API key (never the key itself). */
  apiKeyEnv: z
    .string({ error: (issue) => expectation('an environment variable name', issue.input) })
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/u, { error: (issue) => `expected an environment variable name such as "OPENAI_API_KEY", got ${JSON.stringify(issue.input)}` })
    .optional(),
  /** Requests in flight at once for this role. */
  concurrency: wholeNumber(1, 1024).default(4),
  pricing: Pricing.optional(),
  /** Retries of a failed request (429, 5xx, network) before the item is recorded as failed. */
  maxRetries: wholeNumber(0, 50).optional(),
  /** First backoff delay in ms, doubled per retry (Retry-After wins when the server sends one). */
  backoffMs: wholeNumber(0, 600_000).optional(),
  timeoutMs: wholeNumber(1, 3_600_000).optional(),
  /**
   * How requests name their length limit: newer OpenAI models take `max_completion_tokens` only.
   * Absent or `auto`: `max_tokens`, switching when the server refuses it.
   */
  maxTokensParameter: oneOf(['auto', 'max_tokens', 'max_completion_tokens']).optional(),
});
export type OpenAiChatRole = z.infer<typeof OpenAiChatRole>;

export const LocalChatRole = z.strictObject({ type: z.literal('local'), ...LocalModelOptions });
export type LocalChatRole = z.infer<typeof LocalChatRole>;

const typeError = (allowed: string) => (issue: { input?: unknown }) => {
  const type = typeof issue.input === 'object' && issue.input !== null ? (issue.input as { type?: unknown }).type : undefined;
  return `expected "type" to be ${allowed}, got ${type === undefined ? 'no "type" field' : JSON.stringify(type)}`;
};

export const ChatRoleConfig = z.discriminatedUnion('type', [OpenAiChatRole, LocalChatRole], { error: typeError('"openai" or "local"') });
export type ChatRoleConfig = z.infer<typeof ChatRoleConfig>;

export const RewardRole = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('http'), url: url('http://127.0.0.1:8000/score'), concurrency: wholeNumber(1, 1024).default(2) }),
    z.strictObject({ type: z.literal('local'), ...LocalModelOptions }),
  ],
  { error: typeError('"http" or "local"') },
);
export type RewardRole = z.infer<typeof RewardRole>;

export const EmbedderRole = z.strictObject(
  { type: z.literal('local', { error: (issue) => `expected "type" to be "local", got ${JSON.stringify(issue.input) ?? 'nothing'}` }), ...LocalModelOptions },
  { error: (issue) => expectation('an object such as {"type": "local", "model": "<folder>"}', issue.input) },
);
export type EmbedderRole = z.infer<typeof EmbedderRole>;

export const ProvidersConfig = z.strictObject(
  {
    generator: ChatRoleConfig,
    judge: ChatRoleConfig,
    baseline: ChatRoleConfig,
    reward: RewardRole,
    embedder: EmbedderRole,
  },
  { error: (issue) => expectation('an object with the roles generator, judge, baseline, reward and embedder', issue.input) },
);
export type ProvidersConfig = z.infer<typeof ProvidersConfig>;
export type RoleName = keyof ProvidersConfig;
export const ROLE_NAMES = ['generator', 'judge', 'baseline', 'reward', 'embedder'] as const satisfies readonly RoleName[];

const sectionError = (what: string) => ({ error: (issue: { input?: unknown }) => expectation(what, issue.input) });

const Membership = z.strictObject({
  axis: text('an axis name such as "diet"'),
  // CoTs quote a category when they must (cot.ts renderCategoryList), so a label holds no quote or line break.
  category: text('a category such as "Ketogenic"').refine((category) => !/["\n]/u.test(category), {
    error: (issue) => `expected a category without double quotes or line breaks, got ${JSON.stringify(issue.input)}`,
  }),
});

export const PersonaSourceConfig = z.discriminatedUnion(
  'source',
  [
    /** Table 7, optionally narrowed to some axes and/or names (e.g. D_small = diet + politics). */
    z.strictObject({
      source: z.literal('roster'),
      axes: z.array(oneOf(AXES)).min(1, { error: 'expected at least one axis' }).optional(),
      names: z.array(text('a persona name')).min(1, { error: 'expected at least one name' }).optional(),
    }),
    /** People given here; `cv` folds are assigned (axis-stratified) where absent. */
    z.strictObject({
      source: z.literal('list'),
      people: z
        .array(
          z.strictObject({
            name: text('a persona name'),
            memberships: z.array(Membership).min(1, { error: 'expected at least one {axis, category}' }),
            description: z.string().optional(),
            cv: wholeNumber(0).optional(),
          }),
        )
        .min(1, { error: 'expected at least one person' }),
    }),
    /** G.1 per axis with the generator; the replies' people are used as they come (at most `maxPerAxis`). */
    z.strictObject({
      source: z.literal('generate'),
      axes: z.array(text('an axis name')).min(1, { error: 'expected at least one axis' }).default([...AXES]),
      maxPerAxis: wholeNumber(1, 20).default(5),
    }),
  ],
  {
    error: (issue) => {
      const source = typeof issue.input === 'object' && issue.input !== null ? (issue.input as { source?: unknown }).source : undefined;
      return `expected "source" to be "roster", "list" or "generate", got ${source === undefined ? 'no "source" field' : JSON.stringify(source)}`;
    },
  },
);
export type PersonaSourceConfig = z.infer<typeof PersonaSourceConfig>;

export const QuestionsConfig = z.strictObject({
  personalPerPersona: wholeNumber(1).default(100),
  divergentPerAxis: wholeNumber(1).default(100),
  /** Questions asked for per G.2 call ({N_RESPONSES}). */
  perCall: wholeNumber(1, 100).default(20),
  /** Extra G.2 calls when parsing and dedup leave fewer questions than wanted. */
  maxExtraCalls: wholeNumber(0, 100).default(2),
  temperature: realNumber(0, 2, 'a temperature from 0 to 2').default(1),
  topP: realNumber(0, 1, 'a top-p from 0 to 1').default(1),
  /** The authors' question calls set 2000 (and leaked it into later calls, spec §2.0). */
  maxTokens: wholeNumber(1).default(2000),
}, sectionError('an object of question settings'));

export const ResponsesConfig = z.strictObject({
  cotsPerQuestion: wholeNumber(1).default(5),
  answersPerCot: wholeNumber(1).default(10),
  temperature: realNumber(0, 5, 'a temperature from 0 to 5').default(2),
  topP: realNumber(0, 1, 'a top-p from 0 to 1').default(0.8),
  /**
   * The authors sampled with Hugging Face `generate`, whose top_k defaults to 50 (Zephyr's generation
   * config sets no other); 0 turns top-k off. Sent to OpenAI-compatible servers as vLLM's `top_k`.
   */
  topK: wholeNumber(0, 1_000_000).default(50),
  maxTokens: wholeNumber(1).default(512),
  /** Phase-1 samples per CoT slot before the question is given up (the authors retried without limit). */
  maxCotAttempts: wholeNumber(1, 100).default(5),
  /**
   * Personal questions' CoTs: "sampled" from the baseline (the paper), or "gold", built from one of
   * the persona's own axes and its roster categories like divergent CoTs (the authors' code has this
   * path, `gold_categories=True`; useful for a baseline that cannot follow the CoT format).
   */
  personalCots: oneOf(['sampled', 'gold']).default('sampled'),
  /** G.3's axis list: "paper" (eleven axes named, twelve listed) or "authors" (their code's twenty). */
  cotAxisList: oneOf(['paper', 'authors'] as const satisfies readonly CotAxisList[]).default('paper'),
}, sectionError('an object of response settings'));

export const FilterConfig = z.strictObject({
  rewardWindow: wholeNumber(1).default(20),
  k: wholeNumber(2, 64)
    .refine(isPowerOfTwo, { error: (issue) => `expected a power of two (the judge runs a single-elimination bracket), got ${String(issue.input)}` })
    .default(4),
  kmeansRestarts: wholeNumber(1, 100).default(10),
  kmeansMaxIterations: wholeNumber(1, 10_000).default(300),
}, sectionError('an object of filter settings'));

export const JudgeConfig = z.strictObject({
  batchSize: wholeNumber(1, 5).default(5),
  temperature: realNumber(0, 2, 'a temperature from 0 to 2').default(1),
  maxTokens: wholeNumber(1).default(1000),
  /** Calls per match before an unparseable verdict is recorded as a failure. */
  maxAttempts: wholeNumber(1, 20).default(3),
}, sectionError('an object of judge settings'));

export const SplitConfig = z.strictObject({
  personalTest: wholeNumber(0).default(50),
  personalTrain: wholeNumber(0).default(50),
  divergentTestPerAxis: wholeNumber(0).default(50),
  divergentTrain: wholeNumber(0).default(50),
}, sectionError('an object of split sizes'));

export const BuildConfig = z
  .strictObject({
    /** Names the dataset in the card and the provenance. */
    name: text('a dataset name').default('wikipersonas'),
    /** The authors seeded Python and numpy with 24. Every random choice derives from this. */
    seed: wholeNumber(0, 2 ** 31 - 1).default(24),
    personas: PersonaSourceConfig.prefault({ source: 'roster' }),
    questions: QuestionsConfig.prefault({}),
    responses: ResponsesConfig.prefault({}),
    filter: FilterConfig.prefault({}),
    judge: JudgeConfig.prefault({}),
    split: SplitConfig.prefault({}),
    cvFolds: wholeNumber(1, 50).default(DEFAULT_CV_FOLD_COUNT),
    /** SQLite request cache; relative to the config file. Default: cache.sqlite in the output folder. */
    cache: text('a file path').optional(),
    providers: ProvidersConfig,
  }, { error: (issue) => expectation('a JSON object (the build config)', issue.input) })
  .superRefine((config, context) => {
    const candidates = config.responses.cotsPerQuestion * config.responses.answersPerCot;
    if (candidates < config.filter.k) {
      context.addIssue({
        code: 'custom',
        path: ['responses'],
        message: `expected cotsPerQuestion × answersPerCot (${candidates}) to be at least filter.k (${config.filter.k}): k-means needs k candidates`,
      });
    }
    if (config.filter.rewardWindow < config.filter.k) {
      context.addIssue({
        code: 'custom',
        path: ['filter', 'rewardWindow'],
        message: `expected at least filter.k (${config.filter.k}) candidates kept, got ${config.filter.rewardWindow}`,
      });
    }
  });
export type BuildConfig = z.infer<typeof BuildConfig>;
export type BuildConfigInput = z.input<typeof BuildConfig>;

/** One line per issue: "providers.judge.baseUrl: expected …". */
export function formatConfigIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length === 0 ? '(top level)' : issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`;
    }
    return `${where}: ${issue.message}`;
  });
}

export type ParsedConfig = { ok: true; config: BuildConfig } | { ok: false; issues: string[] };

export function parseBuildConfig(input: unknown): ParsedConfig {
  const parsed = BuildConfig.safeParse(input);
  return parsed.success ? { ok: true, config: parsed.data } : { ok: false, issues: formatConfigIssues(parsed.error) };
}
