/**
 * What the page says about speed and method: rates and time left (src/app/lib/rate.ts), scoring
 * methods in words (src/app/lib/scoringMethod.ts), and "Auto" passing over a software GPU adapter
 * for WASM (src/app/lib/gpu.ts, ModelController.resolvedDevice).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isSoftwareAdapter } from '../../../src/app/lib/gpu.ts';
import { describeTokenRate, formatDuration, rateOf, TokenMeter } from '../../../src/app/lib/rate.ts';
import { checkPassed, describeScoringMethod } from '../../../src/app/lib/scoringMethod.ts';
import type { ScoringCheck } from '../../../src/core/engine.ts';
import { installPageEnvironment, loadModel, openPlayground, restorePageEnvironment } from '../../support/pageRig.ts';

describe('rates', () => {
  it('computes work per second and the time left, and nothing before any work or time', () => {
    expect(rateOf(30, 12_000, 90)).toEqual({ done: 30, seconds: 12, perSecond: 2.5, etaSeconds: 36 });
    expect(rateOf(0, 5_000, 10)).toMatchObject({ perSecond: null, etaSeconds: null });
    expect(rateOf(3, 0, 10)).toMatchObject({ perSecond: null, etaSeconds: null });
  });

  it('counts tokens by the engine\'s count when sent, else one per delta (marked approximate), and takes the final count', () => {
    const counted = new TokenMeter(1_000);
    counted.push(3);
    counted.push(7);
    expect(counted.read(3_000)).toMatchObject({ done: 7, perSecond: 3.5, exact: true });
    const guessed = new TokenMeter(0);
    guessed.push(undefined);
    guessed.push(undefined);
    expect(describeTokenRate(guessed.read(1_000))).toBe('~2 tokens · 2.0 tokens/s');
    guessed.finish(5);
    expect(describeTokenRate(guessed.read(1_000))).toBe('5 tokens · 5.0 tokens/s');
  });

  it('formats durations for people', () => {
    expect([4.25, 45.4, 200, 3_900].map(formatDuration)).toEqual(['4.3 s', '45 s', '3 min 20 s', '1 h 5 min']);
  });
});

describe('scoring methods in words', () => {
  it('names known methods and keeps what follows the id', () => {
    expect(describeScoringMethod('one-pass-cached-prompt')).toBe('one pass per answer, the prompt computed once');
    expect(describeScoringMethod('one-pass (checked against forced decoding at the first score)')).toBe(
      'one pass: all answer tokens in one forward pass, the prompt computed once (checked against forced decoding at the first score)',
    );
    expect(describeScoringMethod('forced-decode-prompt-once')).toBe('token by token (forced decoding), the prompt computed once');
    expect(describeScoringMethod('prompt_logprobs')).toBe('prompt_logprobs');
  });

  it('a check passed when the engine kept its fast path', () => {
    const check = (method: string): ScoringCheck => ({ method, maxAbsDiff: 0.5, meanAbsDiff: 0.1, repeatMaxAbsDiff: 0, tokens: 4, reason: '', subject: '' });
    expect(checkPassed(check('one-pass'))).toBe(true);
    expect(checkPassed(check('forced-decode'))).toBe(false);
  });
});

describe('the Auto device', () => {
  beforeEach(installPageEnvironment);
  afterEach(restorePageEnvironment);

  it('recognizes software adapters by the browser\'s flag or their name', () => {
    expect(isSoftwareAdapter('google swiftshader SwiftShader Device (Subzero)', undefined)).toBe(true);
    expect(isSoftwareAdapter('mesa llvmpipe', undefined)).toBe(true);
    expect(isSoftwareAdapter('unnamed adapter', true)).toBe(true);
    expect(isSoftwareAdapter('nvidia ampere NVIDIA GeForce RTX 3080', false)).toBe(false);
  });

  const adapter = (vendor: string, architecture: string) => ({
    gpu: { requestAdapter: async () => ({ info: { vendor, architecture, description: '' }, features: new Set<string>() }) },
  });

  it('loads the tiny model on WASM under Auto when the only GPU is SwiftShader, and says why', async () => {
    vi.stubGlobal('navigator', adapter('google', 'swiftshader'));
    const { playground, workers } = await openPlayground('software-gpu');
    const { model } = playground;
    const entry = model.selected;
    if (!entry) throw new Error('no model selected');
    expect(model.gpu).toMatchObject({ status: 'available', software: true });
    expect(model.device).toBe('auto');
    expect(model.resolvedDevice(entry)).toBe('wasm');
    expect(model.autoDevice.why).toContain('software renderer (google swiftshader)');
    await loadModel(playground);
    expect(JSON.stringify(workers[0]?.sent.find((request) => request.kind === 'load')?.payload)).toContain('"device":"wasm"');
    // Chosen explicitly, WebGPU is still there.
    expect(model.resolvedDevice(entry, 'webgpu')).toBe('webgpu');
  });

  it('keeps WebGPU under Auto on a hardware adapter', async () => {
    vi.stubGlobal('navigator', adapter('nvidia', 'ampere'));
    const { playground } = await openPlayground('hardware-gpu');
    const { model } = playground;
    const entry = model.selected;
    if (!entry) throw new Error('no model selected');
    expect(model.resolvedDevice(entry)).toBe('webgpu');
    expect(model.autoDevice).toEqual({ device: 'webgpu', why: null });
  });
});
