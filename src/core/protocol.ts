/**
 * The typed message protocol between the page and the model worker (workers/engine.worker.ts).
 *
 * Owns: one discriminated union of requests (page → worker) and one of replies (worker → page),
 * each a zod schema and a type of the same name, and the maps that tie every request kind to its
 * payload schema and to its result schema. Both sides parse every message they receive with
 * these schemas, so no message is trusted by shape alone.
 *
 * Rules the schemas encode and the host and client enforce:
 * - every message carries the request `id` (an `error` may carry `null` when the request it
 *   answers was too malformed to read an id from, or reused an id that is still open);
 * - every request ends in exactly one terminal reply, `result` or `error`; `token` and
 *   `progress` are events that may precede it. The one exception is the test-only `crash`
 *   request, which ends the worker instead (the client turns that into `worker-crashed`);
 * - a `result` names the request kind it answers, and its payload is that kind's result schema.
 *
 * Pure core: no DOM or Node types. The Transformers.js load options are mirrored here rather than
 * imported from src/engines, so the page never bundles an engine; tests/unit/protocolTypes.test.ts
 * pins the mirror to the engine's own option type so the two cannot drift.
 */
import { z } from 'zod';
import { ChatMessage } from './chat.ts';
import { EngineInfo, GenerateOptions, GenerateResult, LoadProgress, ScoreRequest, ScoreResult } from './engine.ts';
import { SerializedError } from './errors.ts';

export const RequestId = z.string().min(1).max(200);
export type RequestId = z.infer<typeof RequestId>;

/** Load options of the Transformers.js engine as the worker accepts them (browser devices only). */
export const TransformersSpecOptions = z.object({
  /** A model id resolved under `localModelPath` (or a hub id when `allowRemote`). */
  model: z.string().min(1),
  device: z.enum(['webgpu', 'wasm']),
  dtype: z.enum(['fp32', 'fp16', 'q8', 'q4', 'q4f16']).optional(),
  /** Base URL the page serves models from; the client makes it absolute before sending. */
  localModelPath: z.string().optional(),
  allowRemote: z.boolean().optional(),
  /** Where ONNX Runtime's wasm/mjs files are served from (never a CDN); absolute when sent. */
  wasmPaths: z.string().optional(),
  useBrowserCache: z.boolean().optional(),
  promptCache: z.boolean().optional(),
});
export type TransformersSpecOptions = z.infer<typeof TransformersSpecOptions>;

/** Load options of the WebLLM engine as the worker accepts them. */
export const WebLlmSpecOptions = z.object({
  modelId: z.string().min(1),
  /** Weights folder of a custom (non-prebuilt) model. */
  modelUrl: z.string().optional(),
  /** Compiled model library (.wasm) of a custom model. */
  modelLibUrl: z.string().optional(),
  cacheBackend: z.enum(['cache', 'indexeddb']).optional(),
  /**
   * The page's URL, against which the adapter resolves the model catalog (models.json) and
   * relative model URLs; the client fills it in, since a worker cannot know the page's path.
   */
  baseUrl: z.string().optional(),
  /** The model catalog, when not models.json beside the page; absolute when sent. */
  catalogUrl: z.string().optional(),
});
export type WebLlmSpecOptions = z.infer<typeof WebLlmSpecOptions>;

/** Which engine the worker should host, with that engine's options. */
export const EngineSpec = z.discriminatedUnion('backend', [
  z.object({ backend: z.literal('transformers'), options: TransformersSpecOptions }),
  z.object({ backend: z.literal('webllm'), options: WebLlmSpecOptions }),
]);
export type EngineSpec = z.infer<typeof EngineSpec>;
export type EngineSpecInput = z.input<typeof EngineSpec>;
export type WorkerBackend = EngineSpec['backend'];
/** The options of one backend's spec. */
export type SpecOptions<B extends WorkerBackend> = Extract<EngineSpec, { backend: B }>['options'];

export const GeneratePayload = z.object({
  messages: z.array(ChatMessage).min(1),
  options: GenerateOptions,
});
export type GeneratePayload = z.infer<typeof GeneratePayload>;

export const TokenizePayload = z.object({ text: z.string() });
export const TokenizeResult = z.object({ ids: z.array(z.number().int()) });
export type TokenizeResult = z.infer<typeof TokenizeResult>;

export const CancelPayload = z.object({ targetId: RequestId });
/** `found` is false when the target had already finished (or never existed): nothing to cancel. */
export const CancelResult = z.object({ found: z.boolean() });
export type CancelResult = z.infer<typeof CancelResult>;

export const CacheStatus = z.object({ cached: z.boolean() });
export type CacheStatus = z.infer<typeof CacheStatus>;

export const Empty = z.object({});

export const RequestKind = z.enum([
  'load',
  'generate',
  'score',
  'tokenize',
  'unload',
  'cancel',
  'cacheStatus',
  'deleteCache',
  /** Liveness probe: answered at once unless the worker is dead or blocked. */
  'ping',
  /** Test builds only: makes the worker throw an uncaught error, as a real crash would. */
  'crash',
]);
export type RequestKind = z.infer<typeof RequestKind>;

/** Kind → payload schema of the request. */
export const RequestPayloads = {
  load: EngineSpec,
  generate: GeneratePayload,
  score: ScoreRequest,
  tokenize: TokenizePayload,
  unload: Empty,
  cancel: CancelPayload,
  cacheStatus: EngineSpec,
  deleteCache: EngineSpec,
  ping: Empty,
  crash: Empty,
} satisfies { [K in RequestKind]: z.ZodType };

const resultSchemas = {
  load: EngineInfo,
  generate: GenerateResult,
  score: ScoreResult,
  tokenize: TokenizeResult,
  unload: Empty,
  cancel: CancelResult,
  cacheStatus: CacheStatus,
  deleteCache: Empty,
  ping: Empty,
  // A crash request never succeeds: the worker dies instead.
  crash: z.never(),
} satisfies { [K in RequestKind]: z.ZodType };

export type RequestPayload<K extends RequestKind> = z.output<(typeof RequestPayloads)[K]>;
export type RequestPayloadInput<K extends RequestKind> = z.input<(typeof RequestPayloads)[K]>;
type ResultMap = { [K in RequestKind]: z.output<(typeof resultSchemas)[K]> };
export type ResultOf<K extends RequestKind> = ResultMap[K];

/**
 * Kind → result schema. Typed as a mapped type so that indexing it with a generic kind yields
 * that kind's schema (TypeScript's correlated-union pattern), which `parseResult` relies on.
 */
export const ResultPayloads: { readonly [K in RequestKind]: z.ZodType<ResultMap[K]> } = resultSchemas;

/** Parses a result payload as the result of a request of `kind`. */
export function parseResult<K extends RequestKind>(kind: K, payload: unknown): ResultOf<K> {
  return ResultPayloads[kind].parse(payload);
}

function request<K extends RequestKind>(kind: K) {
  return z.object({ id: RequestId, kind: z.literal(kind), payload: RequestPayloads[kind] });
}

/** Page → worker. */
export const WorkerRequest = z.discriminatedUnion('kind', [
  request('load'),
  request('generate'),
  request('score'),
  request('tokenize'),
  request('unload'),
  request('cancel'),
  request('cacheStatus'),
  request('deleteCache'),
  request('ping'),
  request('crash'),
]);
export type WorkerRequest = z.output<typeof WorkerRequest>;
export type WorkerRequestInput = z.input<typeof WorkerRequest>;

function result<K extends RequestKind>(kind: K) {
  return z.object({ id: RequestId, kind: z.literal('result'), request: z.literal(kind), payload: resultSchemas[kind] });
}

/** The terminal success reply, discriminated by the kind of request it answers. */
export const ResultMessage = z.discriminatedUnion('request', [
  result('load'),
  result('generate'),
  result('score'),
  result('tokenize'),
  result('unload'),
  result('cancel'),
  result('cacheStatus'),
  result('deleteCache'),
  result('ping'),
  result('crash'),
]);
export type ResultMessage = z.output<typeof ResultMessage>;

/** The terminal failure reply. `id` is null only when the request's own id could not be used. */
export const ErrorMessage = z.object({ id: RequestId.nullable(), kind: z.literal('error'), error: SerializedError });
export type ErrorMessage = z.infer<typeof ErrorMessage>;

/** Load progress of the `load` request `id`. */
export const ProgressMessage = z.object({ id: RequestId, kind: z.literal('progress'), progress: LoadProgress });
export type ProgressMessage = z.infer<typeof ProgressMessage>;

/** A streamed text delta of the `generate` request `id`; the deltas concatenate to the final text. */
export const TokenMessage = z.object({ id: RequestId, kind: z.literal('token'), text: z.string(), tokens: z.number().int().nonnegative().optional() });
export type TokenMessage = z.infer<typeof TokenMessage>;

/** Worker → page. */
export const WorkerReply = z.discriminatedUnion('kind', [ResultMessage, ErrorMessage, ProgressMessage, TokenMessage]);
export type WorkerReply = z.output<typeof WorkerReply>;

/** Whether a reply ends its request. */
export function isTerminal(reply: WorkerReply): reply is ResultMessage | ErrorMessage {
  return reply.kind === 'result' || reply.kind === 'error';
}

/** Reads the id of a message that failed to parse, so an error can still be addressed to it. */
export function readRequestId(message: unknown): RequestId | null {
  const probe = z.object({ id: RequestId }).safeParse(message);
  return probe.success ? probe.data.id : null;
}
