/**
 * The tokenizer `serve` answers with: the model folder's own tokenizer (Transformers.js), loaded
 * beside the engine so the server can tokenize, decode and name tokens the way vLLM does.
 *
 * Owns: encoding with or without the tokenizer's special tokens (its post-processor adds BOS as
 * Hugging Face's does), vocabulary pieces (`convert_ids_to_tokens`, /tokenize's `token_strs`),
 * vLLM's per-entry token texts for log-probs (`convert_ids_list_to_tokens`: `decode([id])`,
 * leading spaces restored for Metaspace tokenizers, a lone UTF-8 fragment repaired or emptied),
 * the vocabulary size (larger ids are refused as vLLM refuses them), and a cheap lower bound on a
 * text's token count (no piece is longer than the longest vocabulary entry).
 *
 * Long texts are encoded on a worker thread: Transformers.js encodes synchronously (a 65,000
 * character text takes seconds), which on the server's thread would stall every other request.
 * Short texts stay on this thread, where the round trip would cost more than the encoding.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { z } from 'zod';

/** Texts longer than this are encoded off the event loop. */
export const WORKER_ENCODE_MIN_CHARS = 1024;

export interface ServerTokenizer {
  /** The text of `ids`, special tokens kept (the echo of a token-id prompt). */
  decode(ids: readonly number[]): string;
  /** Vocabulary pieces (`convert_ids_to_tokens`): /tokenize's `token_strs`. */
  tokenStrings(ids: readonly number[]): string[];
  /** vLLM's text for each entry of one log-prob position, in order (the repair looks at the previous entry). */
  logprobTokens(ids: readonly number[]): string[];
  /** Token ids of `text`, with the tokenizer's special tokens (BOS) when asked. */
  encode(text: string, options: { addSpecialTokens: boolean }): Promise<number[]>;
  /** Ids from 0 to vocabSize − 1 exist (added tokens included). */
  readonly vocabSize: number;
  /** The longest vocabulary piece in characters: a text of n characters has at least n / this tokens. */
  readonly maxPieceLength: number;
  /** tokenizer_config.json as loaded (what vLLM's /tokenizer_info reports). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Stops the encoding worker, if one was started. */
  close(): Promise<void>;
}

/** The parts of Transformers.js's tokenizer object read here (parsed, since they are not public API). */
const TokenizerInternals = z.object({
  _tokenizerJSON: z.object({ pre_tokenizer: z.unknown().nullish() }).loose().optional(),
  _tokenizerConfig: z.record(z.string(), z.unknown()).optional(),
});

const Metaspace = z.object({ type: z.literal('Metaspace'), replacement: z.string().default('▁') });
const PreTokenizerSequence = z.object({ type: z.literal('Sequence'), pretokenizers: z.array(z.unknown()) });

/** The replacement character of a Metaspace pre-tokenizer (whose leading one `decode` strips), as vLLM looks for it. */
export function leadingSpaceMarker(preTokenizer: unknown): string | undefined {
  const direct = Metaspace.safeParse(preTokenizer);
  if (direct.success) return direct.data.replacement;
  const sequence = PreTokenizerSequence.safeParse(preTokenizer);
  if (!sequence.success) return undefined;
  for (const part of sequence.data.pretokenizers) {
    const inner = Metaspace.safeParse(part);
    if (inner.success) return inner.data.replacement;
  }
  return undefined;
}

/** vLLM's `_restore_leading_spaces`: the spaces `decode` stripped from a piece's leading markers. */
export function restoreLeadingSpaces(piece: string, text: string, marker: string): string {
  let markers = 0;
  for (const char of piece) {
    if (char !== marker) break;
    markers++;
  }
  const existing = text.length - text.trimStart().length;
  return markers > existing ? ' '.repeat(markers - existing) + text : text;
}

/** The tokenizer of a model folder (or hub id); the weights are not loaded again. */
export async function loadServerTokenizer(model: string): Promise<ServerTokenizer> {
  const folder = resolve(model);
  const isFolder = existsSync(folder) && statSync(folder).isDirectory();
  const source = isFolder ? folder : model;
  const tokenizer: PreTrainedTokenizer = await AutoTokenizer.from_pretrained(source, { local_files_only: isFolder });
  // The tokenizer is a callable object, so its fields are picked before parsing.
  const fields = tokenizer as unknown as Record<string, unknown>;
  const internals = TokenizerInternals.parse({ _tokenizerJSON: fields._tokenizerJSON, _tokenizerConfig: fields._tokenizerConfig });
  const marker = leadingSpaceMarker(internals._tokenizerJSON?.pre_tokenizer);
  const pieces: string[] = [];
  let maxPieceLength = 1;
  for (const [piece, id] of tokenizer.get_vocab()) {
    pieces[id] = piece;
    maxPieceLength = Math.max(maxPieceLength, [...piece].length);
  }
  const decodeOne = (id: number): string => tokenizer.decode([id], { skip_special_tokens: false });
  const worker = new EncodeWorker(source, isFolder);
  return {
    decode: (ids) => (ids.length === 0 ? '' : tokenizer.decode([...ids], { skip_special_tokens: false })),
    tokenStrings: (ids) => ids.map((id) => pieces[id] ?? decodeOne(id)),
    logprobTokens(ids) {
      const texts = ids.map((id) => (marker ? restoreLeadingSpaces(pieces[id] ?? '', decodeOne(id), marker) : decodeOne(id)));
      // vLLM's `_verify_tokens`: a text ending in U+FFFD is an incomplete UTF-8 sequence.
      return texts.map((text, i) => {
        if (!text.endsWith('\uFFFD')) return text;
        if (i > 0) {
          const pair = tokenizer.decode([ids[i - 1] as number, ids[i] as number], { skip_special_tokens: false });
          if (!pair.endsWith('\uFFFD')) return pair;
        }
        return '';
      });
    },
    async encode(text, { addSpecialTokens }) {
      if (text.length < WORKER_ENCODE_MIN_CHARS) return tokenizer.encode(text, { add_special_tokens: addSpecialTokens });
      return worker.encode(text, addSpecialTokens);
    },
    vocabSize: pieces.length,
    maxPieceLength,
    config: internals._tokenizerConfig ?? {},
    close: () => worker.close(),
  };
}

const WorkerReply = z.union([
  z.object({ id: z.number(), ids: z.instanceof(Int32Array) }),
  z.object({ id: z.number(), error: z.string() }),
]);

/**
 * The worker's whole program, in CommonJS: it loads the same tokenizer files with the same
 * library (its CommonJS build, resolved here) and answers `{id, text, addSpecialTokens}` with ids.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { AutoTokenizer, env } = require(workerData.library);
env.useFSCache = false;
env.allowRemoteModels = workerData.allowRemoteModels;
const ready = AutoTokenizer.from_pretrained(workerData.source, { local_files_only: workerData.isFolder });
parentPort.on('message', async ({ id, text, addSpecialTokens }) => {
  try {
    const tokenizer = await ready;
    const ids = Int32Array.from(tokenizer.encode(text, { add_special_tokens: addSpecialTokens }));
    parentPort.postMessage({ id, ids }, [ids.buffer]);
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message ? error.message : error) });
  }
});
`;

/** One worker thread, started on the first long text, encoding requests in arrival order. */
class EncodeWorker {
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #pending = new Map<number, { resolve: (ids: number[]) => void; reject: (error: Error) => void }>();

  constructor(
    private readonly source: string,
    private readonly isFolder: boolean,
  ) {}

  encode(text: string, addSpecialTokens: boolean): Promise<number[]> {
    const worker = this.#start();
    const id = this.#nextId++;
    return new Promise((resolvePromise, reject) => {
      this.#pending.set(id, { resolve: resolvePromise, reject });
      // Only pending work keeps the process alive.
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({ id, text, addSpecialTokens });
    });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const library = createRequire(import.meta.url).resolve('@huggingface/transformers');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { library, source: this.source, isFolder: this.isFolder, allowRemoteModels: env.allowRemoteModels } });
    worker.on('message', (message: unknown) => {
      const reply = WorkerReply.parse(message);
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) worker.unref();
      if ('ids' in reply) pending?.resolve(Array.from(reply.ids));
      else pending?.reject(new Error(reply.error));
    });
    worker.on('error', (error) => this.#failAll(error));
    worker.on('exit', () => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(new Error('The tokenizer worker stopped.'));
    });
    worker.unref();
    this.#worker = worker;
    return worker;
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
