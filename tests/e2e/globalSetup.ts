/** Playwright global setup: the shared tiny-model fixture, generated once (seeded) as in vitest. */
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

export default async function globalSetup(): Promise<void> {
  await ensureTinyModel();
}
