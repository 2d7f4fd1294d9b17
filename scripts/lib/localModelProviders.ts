/**
 * Local Transformers.js models for the dataset build: a sentence embedder and a reward model
 * scored by its raw logit.
 *
 * Embedder: the folder's sentence-transformers modules, as `SentenceTransformer.encode` runs them
 * (sentenceTransformers.ts: truncation to `max_seq_length`, pooling, Dense, Normalize); without a
 * modules.json, mean pooling over the attention mask and L2 normalisation, as before. A
 * sentence-transformers folder's graph is loaded as one encoder graph whatever its model_type
 * (sentence-t5's "t5" is an encoder–decoder class in Transformers.js). A graph that already
 * outputs `sentence_embedding` (Optimum's sentence-transformers export) ran the modules itself:
 * that output is used, after checking its width against the modules'.
 *
 * Reward models: the text-classification pipeline applies a softmax, so a single-logit reward
 * model would score 1.0 for everything; the logits are read from the model directly instead.
 * Encoder reward models load as AutoModelForSequenceClassification and run in batches; decoder
 * reward models (Transformers.js has no Llama sequence-classification class; their config names an
 * unknown model_type) load through AutoModel and run one item at a time, so left padding can
 * never decide which position the score head reads. The input text follows the authors' code: the
 * reward tokenizer's chat template over [user question, assistant answer] with the BOS string
 * removed (tokenization adds it back); a tokenizer without a template gets a text pair.
 *
 * Failures handled: missing model files (named before loading), a reward model with more than one logit, outputs
 * of the wrong shape, cancellation between batches.
 */
import { AutoModel, AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel, env, type PreTrainedTokenizer, type Tensor } from '@huggingface/transformers';
import { throwIfCancelled } from '../../src/core/cancel.ts';
import { AppError } from '../../src/core/errors.ts';
import type { EmbeddingProvider, RewardProvider } from '../../src/core/providers.ts';
import { hubLoadError, locateModel, type ModelLocation } from './localEngine.ts';
import type { LocalModelProviderOptions } from './providers.ts';
import { embedFromTokens, embeddingPipelineOf } from './sentenceTransformers.ts';

const DEFAULT_EMBED_BATCH = 32;
const DEFAULT_REWARD_BATCH = 16;

/**
 * A folder is checked (Transformers.js fails on a missing tokenizer config with a bare TypeError)
 * and read in place, never from a stale file cache; a hub id is fetched (localEngine.ts).
 */
function locate(model: string, dtype: string): ModelLocation {
  const location = locateModel(model, dtype, 'encoder');
  env.allowLocalModels = true;
  if (location.isFolder) env.useFSCache = false;
  return location;
}

function loadError(model: string, isFolder: boolean, error: unknown): AppError {
  if (!isFolder) return hubLoadError(model, error, 'encoder');
  const message = error instanceof Error ? error.message : String(error);
  if (/not found|could not locate|ENOENT|404|local_files_only/i.test(message)) {
    return new AppError('model-files-missing', `Model files not found for "${model}": expected config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx (${message}).`);
  }
  return new AppError('internal', `Loading "${model}" failed: ${message}`);
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

type EncoderModel = PreTrainedModel & ((inputs: Record<string, unknown>) => Promise<unknown>);

export async function loadLocalEmbedder(model: string, options: LocalModelProviderOptions): Promise<EmbeddingProvider & { dispose(): Promise<void> }> {
  const { path, isFolder } = locate(model, options.dtype ?? 'fp32');
  const { pipeline } = embeddingPipelineOf(model);
  const loadOptions = { device: options.device ?? 'cpu', dtype: options.dtype ?? 'fp32', local_files_only: isFolder } as const;
  let tokenizer: PreTrainedTokenizer;
  let encoder: EncoderModel;
  try {
    tokenizer = await AutoTokenizer.from_pretrained(path, { local_files_only: isFolder });
    encoder = (await (pipeline.source === 'modules.json' ? PreTrainedModel : AutoModel).from_pretrained(path, loadOptions)) as EncoderModel;
  } catch (error) {
    throw loadError(model, isFolder, error);
  }
  const finalWidth = pipeline.steps.findLast((step) => step.kind === 'dense')?.outFeatures;
  const batchSize = options.batchSize ?? DEFAULT_EMBED_BATCH;
  return {
    id: `local:${path}`,
    async embed(texts, signal) {
      const vectors: number[][] = [];
      for (const batch of chunks(texts, batchSize)) {
        throwIfCancelled(signal);
        const inputs = tokenizer(
          batch.map((text) => (pipeline.doLowerCase ? text.toLowerCase() : text)),
          { padding: true, truncation: true, ...(pipeline.maxSeqLength ? { max_length: pipeline.maxSeqLength } : {}) },
        ) as unknown as { input_ids: Tensor; attention_mask: Tensor };
        const outputs = (await encoder(inputs as unknown as Record<string, unknown>)) as Record<string, Tensor | undefined>;
        const sentences = pipeline.source === 'modules.json' ? outputs.sentence_embedding : undefined;
        if (sentences) {
          const [rows, width] = sentences.dims as [number, number];
          if (sentences.dims.length !== 2 || rows !== batch.length) throw new AppError('internal', `The embedder returned sentence embeddings of shape [${sentences.dims.join(', ')}] for ${batch.length} texts.`);
          if (finalWidth !== undefined && width !== finalWidth) throw new AppError('invalid-input', `${model}: the graph's sentence_embedding has ${width} dimensions, its modules end in ${finalWidth}: the module files do not belong to this export.`);
          const data = sentences.data as Float32Array;
          for (let row = 0; row < rows; row++) vectors.push(Array.from(data.subarray(row * width, (row + 1) * width)));
        } else {
          // What Transformers.js's feature-extraction pipeline reads.
          const tokens = outputs.last_hidden_state ?? outputs.logits ?? outputs.token_embeddings;
          if (!tokens || tokens.dims.length !== 3 || tokens.dims[0] !== batch.length) {
            throw new AppError('internal', `The embedder returned ${tokens ? `shape [${tokens.dims.join(', ')}]` : 'no token embeddings'} for ${batch.length} texts.`);
          }
          vectors.push(...embedFromTokens(tokens.data as Float32Array, tokens.dims as [number, number, number], inputs.attention_mask.data as BigInt64Array, pipeline));
        }
        for (const output of Object.values(outputs)) output?.dispose();
      }
      return vectors;
    },
    dispose: async () => {
      await encoder.dispose();
    },
  };
}

type RewardModel = PreTrainedModel & ((inputs: Record<string, unknown>) => Promise<{ logits?: Tensor }>);

export async function loadLocalRewardModel(model: string, options: LocalModelProviderOptions): Promise<RewardProvider & { dispose(): Promise<void> }> {
  const { path, isFolder } = locate(model, options.dtype ?? 'fp32');
  const loadOptions = { device: options.device ?? 'cpu', dtype: options.dtype ?? 'fp32', local_files_only: isFolder } as const;
  let tokenizer: PreTrainedTokenizer;
  let reward: RewardModel;
  let batched = true;
  try {
    tokenizer = await AutoTokenizer.from_pretrained(path, { local_files_only: isFolder });
    try {
      reward = (await AutoModelForSequenceClassification.from_pretrained(path, loadOptions)) as RewardModel;
    } catch (error) {
      // No sequence-classification class for this model_type (decoder reward models): the base class runs the graph as is.
      if (!/unsupported model type|unknown model class/i.test(error instanceof Error ? error.message : String(error))) throw error;
      reward = (await AutoModel.from_pretrained(path, loadOptions)) as RewardModel;
      batched = false;
    }
  } catch (error) {
    throw error instanceof AppError ? error : loadError(model, isFolder, error);
  }

  const template = (tokenizer as unknown as { chat_template?: unknown }).chat_template;
  const bos = (tokenizer as unknown as { bos_token?: string | null }).bos_token ?? '';
  const render = (question: string, answer: string): string => {
    const text = tokenizer.apply_chat_template(
      [
        { role: 'user', content: question },
        { role: 'assistant', content: answer },
      ],
      { tokenize: false, add_generation_prompt: false },
    ) as string;
    return bos && text.startsWith(bos) ? text.slice(bos.length) : text;
  };
  const batchSize = batched ? (options.batchSize ?? DEFAULT_REWARD_BATCH) : 1;

  return {
    id: `local:${path}`,
    async score(items, signal) {
      const rewards: number[] = [];
      for (const batch of chunks(items, batchSize)) {
        throwIfCancelled(signal);
        const inputs =
          typeof template === 'string'
            ? tokenizer(batch.map((item) => render(item.question, item.answer)), { padding: true, truncation: true })
            : tokenizer(
                batch.map((item) => item.question),
                { text_pair: batch.map((item) => item.answer), padding: true, truncation: true },
              );
        const output = await reward(inputs as unknown as Record<string, unknown>);
        const logits = output.logits;
        if (!logits) throw new AppError('unsupported', `${model} returned no logits: a reward model must output logits [batch, 1].`);
        const [rows, labels] = logits.dims as [number, number];
        if (logits.dims.length !== 2 || rows !== batch.length) throw new AppError('unsupported', `${model} returned logits of shape [${logits.dims.join(', ')}] for ${batch.length} items.`);
        if (labels !== 1) throw new AppError('unsupported', `${model} has ${labels} output labels: a reward model has exactly one (its logit is the reward).`);
        for (const value of logits.data as Float32Array) rewards.push(value);
        logits.dispose();
      }
      return rewards;
    },
    dispose: async () => {
      await reward.dispose();
    },
  };
}
