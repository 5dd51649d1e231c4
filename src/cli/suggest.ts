// "Did you mean …?" for a mistyped command: the closest names by edit distance, as commander
// suggests for top-level commands and options.

/** Levenshtein distance with adjacent transpositions (`lsit` → `list` is one edit). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      rows[i]![j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The names closest to `word`, best first: within 3 edits and at least 40% alike (commander's
 * thresholds), so `lst` finds `list` but `xyz` finds nothing.
 */
export function similarNames(word: string, names: readonly string[]): string[] {
  let best = Number.POSITIVE_INFINITY;
  let found: string[] = [];
  for (const name of names) {
    const distance = editDistance(word, name);
    const likeness = (name.length - distance) / name.length;
    if (distance > 3 || likeness <= 0.4) continue;
    if (distance < best) [best, found] = [distance, [name]];
    else if (distance === best) found.push(name);
  }
  return found.sort();
}

/** ` (did you mean list?)`, or '' when nothing is close. */
export function didYouMean(word: string, names: readonly string[]): string {
  const similar = similarNames(word, names);
  if (similar.length === 0) return '';
  return similar.length === 1
    ? ` (did you mean ${similar[0]}?)`
    : ` (did you mean one of ${similar.join(', ')}?)`;
}
