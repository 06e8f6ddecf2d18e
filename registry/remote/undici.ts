type Undici = typeof import('undici');

let loaded: Promise<Undici> | undefined;

/**
 * undici, loaded on the first request rather than with the registry client: about 1 MB of code (~50 ms here)
 * that `lading build` would otherwise compile before its first phase, while its first request comes only
 * when `/bin/detect` runs. A CommonJS package, which a split bundle's dynamic import gives as `default` only.
 */
export function undici(): Promise<Undici> {
  return (loaded ??= import('undici').then((m) => (m as { default?: Undici }).default ?? m));
}
