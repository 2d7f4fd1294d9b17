/** Vitest global setup: generates the shared fixtures once per run (deterministic, seeded). */
import { ensureTinyModel } from '../../scripts/fixtures/tinyModelFixture.ts';

export default async function setup(): Promise<void> {
  // Fixture generators register here as they land (tiny model, demo pairs).
  await ensureTinyModel();
  // The non-Zephyr chat formats, for the engines' template and special-token tests.
  await ensureTinyModel('llama3');
  await ensureTinyModel('ministral');
}
