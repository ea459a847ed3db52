/** Runs `work` on every item, at most `limit` at once, in order of start; resolves when all are done. */
export async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, position: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const position = next++;
      await work(items[position] as T, position);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/** `items` in consecutive slices of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let offset = 0; offset < items.length; offset += Math.max(1, size)) {
    result.push(items.slice(offset, offset + Math.max(1, size)));
  }
  return result;
}
