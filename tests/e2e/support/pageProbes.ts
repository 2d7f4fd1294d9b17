/**
 * Probes the page spec installs before the page's own scripts run: long tasks on the main thread
 * (PerformanceObserver `longtask`), a `window.__pwned` trap that records any write (script payloads
 * in pasted or generated text try to set it), a record of every network request, and a record of
 * every Content-Security-Policy violation the page reports.
 */
import type { BrowserContext, Page } from '@playwright/test';

declare global {
  interface Window {
    __longTasks: { start: number; duration: number }[];
    __pwnedHits: string[];
    __pwned: unknown;
  }
}

/** Installs the long-task observer and the `__pwned` trap in every document of the context. */
export async function installProbes(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    window.__longTasks = [];
    window.__pwnedHits = [];
    Object.defineProperty(window, '__pwned', {
      configurable: false,
      get: () => undefined,
      set: (value: unknown) => {
        window.__pwnedHits.push(String(value));
      },
    });
    try {
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) window.__longTasks.push({ start: entry.startTime, duration: entry.duration });
      }).observe({ type: 'longtask', buffered: true });
    } catch {
      // No long-task support: the spec reports no measurement rather than zero.
      window.__longTasks = [{ start: -1, duration: -1 }];
    }
  });
}

/** Every URL requested by the context's pages and their workers. */
export function recordRequests(context: BrowserContext): string[] {
  const urls: string[] = [];
  context.on('request', (request) => urls.push(request.url()));
  return urls;
}

/** What a `securitypolicyviolation` event reports, kept in Node so reloads lose none. */
export interface CspViolation {
  url: string;
  directive: string;
  blocked: string;
  sample: string;
  source: string;
}

/**
 * Every `securitypolicyviolation` event fired in the context's pages, in order. The listener is
 * installed before the page's scripts run and reports to Node at once, so the list survives reloads.
 */
export async function recordCspViolations(context: BrowserContext): Promise<CspViolation[]> {
  const violations: CspViolation[] = [];
  await context.exposeFunction('__reportCspViolation', (violation: CspViolation) => void violations.push(violation));
  await context.addInitScript(() => {
    const report = (window as unknown as { __reportCspViolation(violation: CspViolation): Promise<void> }).__reportCspViolation;
    document.addEventListener('securitypolicyviolation', (event) => {
      void report({
        url: event.documentURI,
        directive: event.effectiveDirective,
        blocked: event.blockedURI,
        sample: event.sample,
        source: `${event.sourceFile}:${event.lineNumber}:${event.columnNumber}`,
      });
    });
  });
  return violations;
}

/** Requests that left the page's origin (data: and blob: URLs never leave the browser). */
export function foreignRequests(urls: readonly string[], origin: string): string[] {
  return [...new Set(urls)].filter((url) => !url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin);
}

/**
 * A phase of the walk whose long tasks are measured: `end` gives the longest main-thread task in
 * ms since the start (0: none over 50 ms; -1: this browser reports no long tasks).
 */
export async function startPhase(page: Page): Promise<{ end(): Promise<number> }> {
  const start = await page.evaluate(() => performance.now());
  return {
    async end() {
      return page.evaluate((from) => {
        const now = performance.now();
        if (window.__longTasks[0]?.start === -1) return -1;
        const tasks = window.__longTasks.filter((task) => task.start >= from && task.start <= now);
        return tasks.reduce((longest, task) => Math.max(longest, task.duration), 0);
      }, start);
    },
  };
}

export async function pwnedHits(page: Page): Promise<string[]> {
  return page.evaluate(() => window.__pwnedHits);
}

/** Writes a record straight into the page's IndexedDB store, as a damaged or hostile record would arrive. */
export async function putRecord(page: Page, store: string, record: unknown): Promise<void> {
  await page.evaluate(
    ([storeName, value]) =>
      new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('wikipersona-playground');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const tx = db.transaction(storeName as string, 'readwrite');
          tx.objectStore(storeName as string).put(value);
          tx.oncomplete = () => {
            db.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    [store, record] as const,
  );
}
