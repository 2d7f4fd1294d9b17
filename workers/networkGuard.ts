/**
 * The model worker's network choke point: it enforces src/core/networkPolicy.ts on every way the
 * engines reach the network from this worker — `fetch` (Transformers.js, ONNX Runtime and WebLLM
 * call it), `Cache.prototype.add`/`addAll` (WebLLM's weight cache downloads through them without
 * calling fetch), `XMLHttpRequest` (Emscripten's fallback), and `WebSocket`/`EventSource`, which
 * no engine uses (ws: URLs, not being http(s), are always refused). A URL outside the allow-list is
 * refused with a `network-refused` AppError before any request is made.
 *
 * It must be installed before any engine module is evaluated: Transformers.js keeps a reference to
 * `fetch` when it loads. The worker entry installs it first and imports engines lazily.
 *
 * It is a guard, not a sandbox: it stops libraries from contacting hosts nobody chose (a CDN
 * fallback, the hub), not code that was written to escape it.
 */
import { parseCatalog, type ModelCatalog } from '../src/core/catalog.ts';
import type { AppError } from '../src/core/errors.ts';
import { catalogUrlOf, modelUrlsOf, networkAllowList, networkRefusal, specRefusal, type NetworkAllowList } from '../src/core/networkPolicy.ts';
import type { EngineSpec } from '../src/core/protocol.ts';
import type { LoadNetworkPolicy } from './engineHost.ts';

type UrlInput = string | URL | Request;

/** The parts of a worker's global scope the guard wraps (a plain object in unit tests). */
export interface GuardedScope {
  fetch: (input: UrlInput, init?: RequestInit) => Promise<Response>;
  readonly location: { readonly href: string };
  readonly Cache?: { readonly prototype: Pick<Cache, 'add' | 'addAll'> };
  readonly XMLHttpRequest?: { readonly prototype: Pick<XMLHttpRequest, 'open'> };
  WebSocket?: new (url: string | URL, protocols?: string | string[]) => object;
  EventSource?: new (url: string | URL, init?: EventSourceInit) => object;
}

export class NetworkGuard implements LoadNetworkPolicy {
  /** The worker script's URL: relative URLs resolve against it, as fetch resolves them; its origin is the page's. */
  readonly #base: string;
  /** The unguarded fetch, for the catalog (checked against the page's origin first). */
  readonly #fetch: GuardedScope['fetch'];
  #list: NetworkAllowList;
  #refusal: AppError | undefined;

  /** Wraps `scope`'s network entry points; until a load is admitted only the page's origin is allowed. */
  constructor(scope: GuardedScope) {
    this.#base = scope.location.href;
    this.#fetch = scope.fetch.bind(scope);
    this.#list = networkAllowList(this.#base, []);
    this.#install(scope);
  }

  get allowList(): NetworkAllowList {
    return this.#list;
  }

  /**
   * Allows the page's origin and the hosts of the model `spec` loads, or throws the refusal of a URL
   * the spec names. A spec that names its model by id only gets the hosts of that entry of the
   * page's catalog, read here as the WebLLM adapter will read it. A catalog that cannot be read
   * adds no host: the adapter then reports the problem itself.
   */
  async admit(spec: EngineSpec): Promise<void> {
    const catalogUrl = catalogUrlOf(spec);
    const catalogRefusal = catalogUrl === undefined ? undefined : networkRefusal(networkAllowList(this.#base, []), new URL(catalogUrl, this.#base).href);
    if (catalogRefusal) throw catalogRefusal;
    const catalog = catalogUrl === undefined ? undefined : await this.#readCatalog(catalogUrl);
    const list = networkAllowList(this.#base, modelUrlsOf(spec, catalog));
    const refusal = specRefusal(list, spec);
    if (refusal) throw refusal;
    this.#list = list;
    this.#refusal = undefined;
  }

  async #readCatalog(url: string): Promise<ModelCatalog | undefined> {
    try {
      const response = await this.#fetch(new URL(url, this.#base).href);
      return response.ok ? parseCatalog(await response.text()) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The first refusal since the last admitted load (libraries wrap a failed fetch in their own error). */
  refusal(): AppError | undefined {
    return this.#refusal;
  }

  /** Throws the refusal of `input` unless it is allowed. */
  #check(input: UrlInput): void {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const refusal = networkRefusal(this.#list, new URL(url, this.#base).href);
    if (!refusal) return;
    this.#refusal ??= refusal;
    throw refusal;
  }

  #install(scope: GuardedScope): void {
    const check = (input: UrlInput) => this.#check(input);
    const fetch = this.#fetch;
    scope.fetch = async (input, init) => {
      check(input);
      return fetch(input, init);
    };

    const cache = scope.Cache?.prototype;
    if (cache) {
      const { add, addAll } = cache;
      cache.add = async function (this: Cache, request) {
        check(request);
        return add.call(this, request);
      };
      cache.addAll = async function (this: Cache, requests) {
        for (const request of requests) check(request);
        return addAll.call(this, requests);
      };
    }

    const xhr = scope.XMLHttpRequest?.prototype;
    if (xhr) {
      const open = xhr.open as (this: XMLHttpRequest, ...args: unknown[]) => void;
      xhr.open = function (this: XMLHttpRequest, method: string, url: string | URL, ...rest: unknown[]) {
        check(url);
        open.call(this, method, url, ...rest);
      };
    }

    if (scope.WebSocket) {
      const Base = scope.WebSocket;
      scope.WebSocket = class extends Base {
        constructor(url: string | URL, protocols?: string | string[]) {
          check(url);
          super(url, protocols);
        }
      };
    }
    if (scope.EventSource) {
      const Base = scope.EventSource;
      scope.EventSource = class extends Base {
        constructor(url: string | URL, init?: EventSourceInit) {
          check(url);
          super(url, init);
        }
      };
    }
  }
}
