/**
 * The diversity filter (spec §2.8, paper App. B.3): cluster the reward-filtered candidates' sentence
 * embeddings with k-means (k = 4) and keep, per cluster, the member least similar to the other
 * clusters, so the judge compares answers that differ.
 *
 * As the authors (`filter_diverse_responses`): embeddings are L2-normalised; for cluster c = 0..k−1,
 * each member's score is the sum of its dot products with the other k−1 centres (unnormalised), the
 * argmin (first on ties) is chosen, and the output index is the first candidate whose embedding
 * equals the chosen one. One random member per cluster is drawn too (`random_ys`, unused later).
 *
 * k-means is ml-kmeans with k-means++ seeding and a seed derived from the build seed. sklearn's
 * KMeans, which the authors ran unseeded, restarts from several seeds and keeps the lowest inertia;
 * `nInit` runs do the same here. sklearn relocates empty clusters; ml-kmeans keeps a centre with no
 * members, so runs with an empty cluster are discarded. Fewer distinct embeddings than k cannot make
 * k clusters: that is a failed item, reported as such (the authors' code stopped in a debugger).
 */
import { kmeans } from 'ml-kmeans';
import { deriveSeed, rngFor } from './seeds.ts';

export interface DiversityOptions {
  k: number;
  /** k-means restarts; the run with the lowest inertia wins (the first on ties). */
  nInit: number;
  maxIterations: number;
  seed: number;
}

export type DiversityResult =
  | {
      ok: true;
      /** Per cluster label 0..k−1: the index (into the input) of the most distinctive member. */
      indices: number[];
      /** Per cluster: a uniformly drawn member. */
      randomIndices: number[];
      /** Cluster label of every input. */
      labels: number[];
      inertia: number;
    }
  | { ok: false; error: string };

export function l2Normalize(vector: readonly number[]): number[] {
  const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
  if (!(norm > 0) || !Number.isFinite(norm)) throw new RangeError('Cannot normalise a zero or non-finite embedding.');
  return vector.map((value) => value / norm);
}

export function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

function squaredDistance(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += ((a[i] as number) - (b[i] as number)) ** 2;
  return sum;
}

function sameVector(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** The first input whose (normalised) embedding equals `vector`, as the authors' `torch.where(all(embs == e))[0]`. */
function firstEqual(data: readonly number[][], vector: readonly number[]): number {
  return data.findIndex((row) => sameVector(row, vector));
}

/** Per cluster, the member minimising the sum of dot products with the other centres. */
export function mostDistinctive(data: readonly number[][], labels: readonly number[], centroids: readonly number[][]): number[] {
  return centroids.map((_, cluster) => {
    const others = centroids.filter((__, other) => other !== cluster);
    let best = -1;
    let bestScore = Infinity;
    labels.forEach((label, index) => {
      if (label !== cluster) return;
      const score = others.reduce((sum, centre) => sum + dot(data[index] as number[], centre), 0);
      if (score < bestScore) {
        best = index;
        bestScore = score;
      }
    });
    if (best < 0) throw new RangeError(`Cluster ${cluster} has no members.`);
    return firstEqual(data, data[best] as number[]);
  });
}

export function selectDiverse(embeddings: readonly (readonly number[])[], options: DiversityOptions): DiversityResult {
  const { k, nInit, maxIterations, seed } = options;
  const data = embeddings.map(l2Normalize);
  const distinct = new Set(data.map((row) => row.join(','))).size;
  if (distinct < k) {
    return { ok: false, error: `only ${distinct} distinct candidate embedding(s) of ${data.length}: k-means needs at least k = ${k}` };
  }
  let best: { labels: number[]; centroids: number[][]; inertia: number } | undefined;
  for (let run = 0; run < nInit; run++) {
    const result = kmeans(data, k, { initialization: 'kmeans++', seed: deriveSeed(seed, 'kmeans', run), maxIterations });
    const sizes = new Array<number>(k).fill(0);
    for (const label of result.clusters) sizes[label] = (sizes[label] ?? 0) + 1;
    if (sizes.some((size) => size === 0)) continue;
    const inertia = result.clusters.reduce((sum, label, index) => sum + squaredDistance(data[index] as number[], result.centroids[label] as number[]), 0);
    if (best === undefined || inertia < best.inertia) best = { labels: [...result.clusters], centroids: result.centroids, inertia };
  }
  if (best === undefined) return { ok: false, error: `every one of ${nInit} k-means run(s) left a cluster empty` };
  const { labels, centroids, inertia } = best;
  const rng = rngFor(seed, 'random-member');
  const randomIndices = centroids.map((_, cluster) => {
    const members = labels.flatMap((label, index) => (label === cluster ? [index] : []));
    return firstEqual(data, data[members[rng.int(0, members.length - 1)] as number] as number[]);
  });
  return { ok: true, indices: mostDistinctive(data, labels, centroids), randomIndices, labels, inertia };
}
