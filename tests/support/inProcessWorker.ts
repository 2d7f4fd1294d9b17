import type { WorkerEngineOptions, WorkerLike } from '../../src/app/engine/workerEngine.ts';
import { WorkerRequest } from '../../src/core/protocol.ts';
import { EngineHost, type EngineFactories, type HostPort } from '../../workers/engineHost.ts';

/**
 * A Worker that runs the real EngineHost in this process: messages cross a fake channel as
 * structured clones on a later task, as they do between threads. It can also die the ways a
 * real worker does: an error event, a messageerror, or silence.
 */
export class InProcessWorker extends EventTarget implements WorkerLike {
  /** Every request the client posted, in order. */
  readonly sent: WorkerRequest[] = [];
  terminated = false;
  /** Messages stop in both directions, without any event: a worker the browser killed. */
  silent = false;

  constructor(factories: EngineFactories) {
    super();
    const port: HostPort = {
      postMessage: (reply) => this.#later(() => this.dispatchEvent(new MessageEvent('message', { data: structuredClone(reply) }))),
      onmessage: null,
    };
    new EngineHost(port, factories);
    this.#toWorker = (data) => port.onmessage?.(new MessageEvent('message', { data }));
  }

  readonly #toWorker: (data: unknown) => void;

  postMessage(message: unknown): void {
    this.sent.push(WorkerRequest.parse(message));
    const data = structuredClone(message);
    this.#later(() => this.#toWorker(data));
  }

  terminate(): void {
    this.terminated = true;
  }

  /** Delivers a raw message to the page, as if the worker had posted it. */
  inject(data: unknown): void {
    this.dispatchEvent(new MessageEvent('message', { data }));
  }

  fail(message: string): void {
    const event = new Event('error', { cancelable: true });
    this.dispatchEvent(Object.assign(event, { message }));
  }

  #later(deliver: () => void): void {
    setTimeout(() => {
      if (!this.terminated && !this.silent) deliver();
    });
  }
}

/** Client options starting an InProcessWorker over `factories` (each kept in `workers`), for a page at example.org/app/, with no liveness pings. */
export function inProcessWorkers(factories: EngineFactories): { workers: InProcessWorker[]; options: Pick<WorkerEngineOptions, 'createWorker' | 'baseUrl' | 'liveness'> } {
  const workers: InProcessWorker[] = [];
  const options = {
    createWorker: () => {
      const worker = new InProcessWorker(factories);
      workers.push(worker);
      return worker;
    },
    baseUrl: 'https://example.org/app/index.html',
    liveness: false as const,
  };
  return { workers, options };
}
