/**
 * `POST /v1/completions` of `serve`, answering as vLLM does (vllm/entrypoints/openai/completion/
 * serving.py): text prompts tokenized with the tokenizer's special tokens unless
 * `add_special_tokens: false`, token-id prompts used as sent; `echo` returns the prompt's text and,
 * with `logprobs: k`, its positions (the first null) with the top k; `prompt_logprobs: k` gives
 * every prompt position's dictionary (the actual token with its rank, then the top k), also in echo
 * mode with `logprobs`, where vLLM takes the prompt's count from `logprobs`; generated tokens
 * (with a PromptContinuer) are scored teacher-forced afterwards, ranks and top k included.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { FinishReason, RankedLogprob } from '../../src/core/engine.ts';
import { contextLengthError, finish, HttpError, rejectUnsupported, samplingOptions, sendJson, usage, type CompletionRequest, type ServerContext } from './openaiServerProtocol.ts';
import { completionLogprobs, positionLogprobs, promptLogprobsJson, promptPositions, type PositionLogprobs } from './vllmLogprobs.ts';

/** OpenAI's default for the legacy completions endpoint. */
const DEFAULT_COMPLETION_MAX_TOKENS = 16;

interface Generated {
  tokenIds: number[];
  text: string;
  finishReason: FinishReason;
}

export async function completions(context: ServerContext, request: CompletionRequest, res: http.ServerResponse): Promise<void> {
  const { engine, options } = context;
  context.checkModel(request.model);
  rejectUnsupported(request);
  if (request.stream) throw new HttpError(400, 'stream is not supported on /v1/completions by this server: use /v1/chat/completions to stream.', 'stream');
  if (request.suffix) throw new HttpError(400, 'suffix is not supported.', 'suffix');
  const maxTokens = request.max_tokens ?? DEFAULT_COMPLETION_MAX_TOKENS;
  const echo = request.echo ?? false;
  if (maxTokens === 0 && !echo) throw new HttpError(400, 'max_tokens 0 needs echo: true (the prompt is all that is returned).', 'max_tokens');
  const continuer = options.continuer;
  if (maxTokens > 0 && !continuer) {
    throw new HttpError(
      400,
      'This server does not generate from raw prompts: use /v1/chat/completions to generate, or max_tokens 0 with echo (and logprobs or prompt_logprobs) to score a prompt.',
      'max_tokens',
    );
  }
  const logprobs = request.logprobs ?? undefined;
  // vLLM: in echo mode without prompt_logprobs, the prompt's positions come with `logprobs` entries.
  const promptTop = request.prompt_logprobs ?? (echo ? logprobs : undefined);
  const scoreRanked = engine.scoreRanked?.bind(engine);
  if ((promptTop !== undefined || logprobs !== undefined) && !scoreRanked) {
    throw new HttpError(400, 'This engine does not rank tokens, so it cannot give log-probs.', request.prompt_logprobs === undefined ? 'logprobs' : 'prompt_logprobs');
  }

  const prompts = await promptIds(context, request);
  const contextWindow = engine.info.contextWindow;
  for (const ids of prompts) {
    if (ids.length + maxTokens > contextWindow) {
      throw contextLengthError(contextWindow, `${ids.length + maxTokens} were requested (${ids.length} in the prompt, ${maxTokens} for the completion)`);
    }
  }
  const texts = typeof request.prompt === 'string' ? [request.prompt] : request.prompt.every((p) => typeof p === 'string') ? (request.prompt as string[]) : undefined;
  const n = request.n ?? 1;
  const controller = context.disconnectSignal(res);
  const { tokenizer } = options;

  const choices = await context.queue(async () => {
    const out: Record<string, unknown>[] = [];
    let completionTokens = 0;
    for (const [promptIndex, ids] of prompts.entries()) {
      if (controller.signal.aborted) break;
      // Teacher-forced log-probs of every prompt position after the first (which has no context).
      const ranked: RankedLogprob[] =
        promptTop !== undefined && scoreRanked && ids.length > 1 ? ((await scoreRanked({ promptIds: ids.slice(0, 1), continuations: [ids.slice(1)] }, promptTop, controller.signal))[0] as RankedLogprob[]) : [];
      const prompt = promptTop === undefined ? undefined : promptPositions(ids, ranked, tokenizer);
      for (let j = 0; j < n; j++) {
        let generated: Generated = { tokenIds: [], text: '', finishReason: 'length' };
        let generatedPositions: PositionLogprobs[] = [];
        if (maxTokens > 0 && continuer) {
          generated = await continuer.continueIds(ids, samplingOptions(request, maxTokens, j), undefined, controller.signal);
          if (logprobs !== undefined && scoreRanked && generated.tokenIds.length > 0) {
            const scored = (await scoreRanked({ promptIds: ids, continuations: [generated.tokenIds] }, logprobs, controller.signal))[0] as RankedLogprob[];
            generatedPositions = scored.map((entry, t) => positionLogprobs(generated.tokenIds[t] as number, entry, tokenizer));
          }
        }
        completionTokens += generated.tokenIds.length;
        const echoed = echo ? (texts?.[promptIndex] ?? tokenizer.decode(ids)) : '';
        const logprobTokens = echo ? [...ids, ...generated.tokenIds] : generated.tokenIds;
        const logprobPositions = echo ? [...(prompt ?? []), ...generatedPositions] : generatedPositions;
        out.push({
          index: promptIndex * n + j,
          text: echoed + generated.text,
          logprobs: logprobs === undefined ? null : completionLogprobs(logprobTokens, logprobPositions, logprobs, tokenizer),
          finish_reason: maxTokens === 0 ? 'length' : finish(generated.finishReason),
          stop_reason: null,
          prompt_logprobs: prompt ? promptLogprobsJson(prompt) : null,
        });
      }
    }
    return { out, completionTokens };
  });
  if (controller.signal.aborted) return;
  const promptTokens = prompts.reduce((sum, ids) => sum + ids.length, 0) * n;
  sendJson(res, 200, {
    id: `cmpl-${randomUUID()}`,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: options.modelName,
    choices: choices.out,
    usage: usage(promptTokens, choices.completionTokens),
  });
}

/** Every prompt as token ids: text through the tokenizer (with its special tokens unless asked not to), ids as sent. */
async function promptIds(context: ServerContext, request: CompletionRequest): Promise<number[][]> {
  const { prompt } = request;
  const encode = async (text: string) => {
    context.assertMayFit(text);
    return context.options.tokenizer.encode(text, { addSpecialTokens: request.add_special_tokens });
  };
  if (typeof prompt === 'string') return [await encode(prompt)];
  if (prompt.every((item): item is string => typeof item === 'string')) {
    const out: number[][] = [];
    for (const text of prompt) out.push(await encode(text));
    return out;
  }
  const sequences = prompt.every((item): item is number => typeof item === 'number') ? [prompt] : (prompt as number[][]);
  for (const ids of sequences) context.assertInVocabulary(ids);
  return sequences;
}
