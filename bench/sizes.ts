// File sizes of the benchmark's fixtures. Pure and deterministic (same sizes every run), so the
// unit tests can check the distribution without writing a byte.

export const KIB = 1024;
export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;

/** Production media (../shared/notes/fragalysis-production.md): ~135k files, ~240 GiB. */
export const PRODUCTION = { files: 135_000, bytes: 240 * GIB } as const;
export const PRODUCTION_MEAN_BYTES = PRODUCTION.bytes / PRODUCTION.files; // ~1.82 MiB
/** Spread of the log-normal: most files well below the mean, a tail of maps of tens of MiB. */
export const PRODUCTION_SIGMA = 1.5;

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Small-files fixture: uniform 1-64 KiB. */
export function smallFileSizes(n: number, seed = 20231016): number[] {
  const rnd = prng(seed);
  return Array.from({ length: n }, () => KIB + Math.floor(rnd() * 63 * KIB));
}

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile needs 0 < p < 1, got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972,
    -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734,
    4.374664141464968, 2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  const tail = (q: number) =>
    (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
    ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  if (p < lo) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - lo) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/**
 * Production-shaped fixture: n sizes from a log-normal (sigma PRODUCTION_SIGMA) at its n
 * quantiles (stratified, so a small sample has the same shape), rescaled so the mean is
 * production's, each at least 1 KiB, in a seeded shuffled order.
 */
export function productionSizes(n: number, seed = 240): number[] {
  if (n === 0) return [];
  const raw = Array.from({ length: n }, (_, i) =>
    Math.exp(PRODUCTION_SIGMA * normalQuantile((i + 0.5) / n)),
  );
  const scale = (PRODUCTION_MEAN_BYTES * n) / raw.reduce((s, x) => s + x, 0);
  const sizes = raw.map((x) => Math.max(KIB, Math.round(x * scale)));
  const rnd = prng(seed);
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [sizes[i], sizes[j]] = [sizes[j]!, sizes[i]!];
  }
  return sizes;
}

/** Files of a production-shaped fixture scaled down by `fraction` (0.01 = 1% of production). */
export function productionFiles(fraction: number): number {
  if (!(fraction > 0 && fraction <= 1))
    throw new Error(`--prod-fraction must be in (0, 1], got ${fraction}`);
  return Math.max(1, Math.round(PRODUCTION.files * fraction));
}
