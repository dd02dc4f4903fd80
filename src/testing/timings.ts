/** A copy of `a` without its `seconds` fields (timings differ between a sharded and an unsharded run; nothing else may). */
export function withoutTimings<T>(a: T): T {
  const c = JSON.parse(JSON.stringify(a)) as T;
  const drop = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(drop);
    else if (typeof v === 'object' && v !== null) {
      delete (v as Record<string, unknown>)['seconds'];
      Object.values(v).forEach(drop);
    }
  };
  drop(c);
  return c;
}
