/**
 * Side-by-side generations: the question unprefixed and with the chosen prefix, with the same
 * seed and sampling settings, run one after the other through the single engine. Tokens stream
 * into the page once per animation frame. Stop ends the running side and skips the rest; each
 * comparison (finished or stopped) is saved with the exact prompts the model saw.
 */
import { toSerializedError } from '../../core/errors.ts';
import type { TokenListener } from '../../core/engine.ts';
import { applyPrefix, type PrefixKind } from '../../core/prefixes.ts';
import { newId } from '../lib/debounce.ts';
import { FrameBatch } from '../lib/frameBatch.ts';
import { TokenMeter, type TokenRate } from '../lib/rate.ts';
import type { GenerationSide, SamplingSettings, StoredGeneration } from '../storage/records.ts';
import type { Repository } from '../storage/repository.ts';
import type { ModelController } from './model.svelte.ts';
import type { PersonaController } from './persona.svelte.ts';

export type SideStatus = 'waiting' | 'streaming' | 'stopping' | 'done' | 'stopped' | 'error';

export interface SideView extends GenerationSide {
  status: SideStatus;
  /** Stop was pressed but the engine finished the answer before it saw the request. */
  lateStop?: boolean;
  /** Tokens so far and their rate, live while streaming, exact once done. */
  rate?: TokenRate;
}

export const DEFAULT_SAMPLING: SamplingSettings = { maxNewTokens: 200, temperature: 0.7, topP: 0.9, topK: 0, seed: 1 };

export class CompareController {
  readonly #repo: Repository;
  readonly #model: ModelController;
  readonly #persona: PersonaController;
  readonly #getPerson: () => string | undefined;
  readonly #onSettings: () => void;

  #question = $state('');
  #sampling = $state<SamplingSettings>({ ...DEFAULT_SAMPLING });
  #sides = $state<SideView[]>([]);
  #running = $state(false);
  #error = $state<string | null>(null);
  #history = $state<StoredGeneration[]>([]);
  #shownId = $state<string | null>(null);

  constructor(repo: Repository, model: ModelController, persona: PersonaController, getPerson: () => string | undefined, onSettings: () => void) {
    this.#repo = repo;
    this.#model = model;
    this.#persona = persona;
    this.#getPerson = getPerson;
    this.#onSettings = onSettings;
  }

  async init(sampling: SamplingSettings | undefined): Promise<void> {
    if (sampling) this.#sampling = { ...sampling };
    this.#history = await this.#repo.generations();
    const latest = this.#history[0];
    if (latest) this.show(latest.id);
  }

  get question(): string {
    return this.#question;
  }
  set question(value: string) {
    this.#question = value;
  }
  get sampling(): SamplingSettings {
    return this.#sampling;
  }
  set sampling(value: SamplingSettings) {
    this.#sampling = value;
    this.#onSettings();
  }
  get sides(): readonly SideView[] {
    return this.#sides;
  }
  get running(): boolean {
    return this.#running;
  }
  get error(): string | null {
    return this.#error;
  }
  get history(): readonly StoredGeneration[] {
    return this.#history;
  }
  get shownId(): string | null {
    return this.#shownId;
  }

  /** Shows a saved comparison. */
  show(id: string): void {
    const generation = this.#history.find((candidate) => candidate.id === id);
    if (!generation || this.#running) return;
    this.#shownId = id;
    this.#question = generation.question;
    this.#sides = generation.sides.map((side) => ({ ...side, status: side.finishReason === 'error' ? 'error' : side.finishReason === 'aborted' ? 'stopped' : 'done' }));
  }

  async deleteShown(): Promise<void> {
    const id = this.#shownId;
    if (!id || this.#running) return;
    await this.#repo.deleteGeneration(id);
    this.#history = this.#history.filter((generation) => generation.id !== id);
    this.#shownId = null;
    this.#sides = [];
  }

  /** A fresh seed, then Generate. */
  async resample(): Promise<void> {
    this.sampling = { ...this.#sampling, seed: Math.floor(Math.random() * 2 ** 31) };
    await this.generate();
  }

  async generate(): Promise<void> {
    const question = this.#question.trim();
    const kind = this.#persona.prefixKind;
    const engine = this.#model.engine;
    this.#error = null;
    if (!question) {
      this.#error = 'Write a question first.';
      return;
    }
    if (!engine) {
      this.#error = 'Load a model first (Model → Load model).';
      return;
    }
    if (kind === 'none') {
      this.#error = 'Choose a prefix other than "None" under Persona: the comparison is unprefixed vs prefixed.';
      return;
    }
    const sampling = { ...this.#sampling };
    const prefix = this.#persona.prefix(kind, sampling.seed);
    if (!prefix.ok) {
      this.#error = `The ${kind} prefix cannot be built: ${prefix.reason}`;
      return;
    }
    const sideOf = (sideKind: PrefixKind, userContent: string): SideView => ({
      kind: sideKind,
      userContent,
      prompt: '',
      text: '',
      finishReason: 'aborted',
      status: 'waiting',
    });
    this.#sides = [sideOf('none', question), sideOf(kind, applyPrefix(prefix.spec, question))];
    this.#shownId = null;
    this.#running = true;
    const model = this.#model.stamp;
    try {
      // Lazy: the Jinja template engine is needed only once a model is loaded (and is preloaded then).
      const { templateFromInfo } = await import('../../core/chatTemplate.ts');
      const template = templateFromInfo(engine.info.chatTemplate);
      // The prompt each side will see, shown at once; replaced by the engine's own when it answers.
      this.#sides = this.#sides.map((side) => ({
        ...side,
        prompt: template.render([{ role: 'user', content: side.userContent }], { addGenerationPrompt: true }),
      }));
      await this.#model.run('generate', 'generating', async (worker, signal) => {
        for (let index = 0; index < this.#sides.length; index++) {
          if (signal.aborted) break;
          await this.#generateSide(index, signal, (messages, onToken) =>
            worker.generate(messages, { ...sampling }, onToken, signal),
          );
        }
      });
    } catch (error) {
      this.#error = toSerializedError(error).message;
    } finally {
      this.#sides = this.#sides.map((side) => (side.status === 'waiting' ? { ...side, status: 'stopped' } : side));
      this.#running = false;
    }
    if (model && this.#sides.some((side) => side.text !== '' || side.status === 'error')) {
      const generation: StoredGeneration = {
        id: newId(),
        createdAt: Date.now(),
        question,
        ...(this.#getPerson() !== undefined && { person: this.#getPerson() }),
        model,
        sampling,
        sides: this.#sides.map(({ status: _status, rate: _rate, ...side }) => side),
      };
      await this.#repo.saveGeneration(generation);
      this.#history = [generation, ...this.#history.filter((candidate) => candidate.id !== generation.id)];
      this.#shownId = generation.id;
    }
  }

  /**
   * Asks the engine to stop at its next step; the side shows "stopping" until the engine answers
   * (at once on WebGPU; a WASM engine may only see the request when its answer is complete).
   */
  stop(): void {
    if (!this.#running) return;
    this.#sides = this.#sides.map((side) => (side.status === 'streaming' ? { ...side, status: 'stopping' } : side));
    this.#model.cancelTask();
  }

  async #generateSide(
    index: number,
    signal: AbortSignal,
    generate: (
      messages: { role: 'user'; content: string }[],
      onToken: TokenListener,
    ) => Promise<{ text: string; prompt: string; finishReason: 'eos' | 'length' | 'aborted'; tokenIds: number[] }>,
  ): Promise<void> {
    const side = this.#sides[index];
    if (!side) return;
    const update = (patch: Partial<SideView>) => {
      this.#sides = this.#sides.map((candidate, i) => {
        if (i !== index) return candidate;
        // Streamed text keeps a side that is stopping in that state until the engine answers.
        const status = candidate.status === 'stopping' && patch.status === 'streaming' ? 'stopping' : (patch.status ?? candidate.status);
        return { ...candidate, ...patch, status };
      });
    };
    let streamed = '';
    const meter = new TokenMeter(Date.now());
    const batch = new FrameBatch<string>((deltas) => {
      streamed += deltas.join('');
      update({ text: streamed, rate: meter.read(Date.now()) });
    });
    update({ status: 'streaming', rate: meter.read(Date.now()) });
    const started = performance.now();
    try {
      const result = await generate([{ role: 'user', content: side.userContent }], (delta, tokensSoFar) => {
        meter.push(tokensSoFar);
        batch.push(delta);
      });
      batch.flush();
      meter.finish(result.tokenIds.length);
      const stopped = result.finishReason === 'aborted' || signal.aborted;
      update({
        text: result.text,
        prompt: result.prompt,
        finishReason: result.finishReason,
        status: stopped ? 'stopped' : 'done',
        lateStop: signal.aborted && result.finishReason !== 'aborted',
        tokens: result.tokenIds.length,
        ms: performance.now() - started,
        rate: meter.read(Date.now()),
      });
    } catch (error) {
      batch.flush();
      const serialized = toSerializedError(error);
      if (serialized.code === 'aborted') update({ status: 'stopped', finishReason: 'aborted', text: streamed, ms: performance.now() - started, rate: meter.read(Date.now()) });
      else {
        update({ status: 'error', finishReason: 'error', error: serialized.message, text: streamed });
        throw error;
      }
    }
  }
}
