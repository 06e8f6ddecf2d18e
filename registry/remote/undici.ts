import type { Dispatcher } from 'undici';

/** What the registry client takes from undici: a request on a dispatcher, and undici's global dispatcher. */
export interface UndiciCore {
  request(url: URL | string, options: { method: string; headers?: Record<string, string>; body?: Dispatcher.DispatchOptions['body']; dispatcher: Dispatcher }): Promise<Dispatcher.ResponseData>;
  getGlobalDispatcher(): Dispatcher;
}

let loaded: Promise<UndiciCore> | undefined;

/**
 * undici's request API and global dispatcher, loaded on the first request rather than with the registry
 * client, and without the rest of the package. undici's index loads every part of it (fetch, WebSocket,
 * cookies, caches, mocks, proxy agents: ~1 MB, ~95 ms to load here) while a registry request needs only
 * `lib/api/api-request.js` and `lib/global.js` (its Agent, pools and HTTP/1 client: ~0.5 MB, ~50 ms). These are
 * undici's own modules, the ones its index exports `request` and `getGlobalDispatcher` from; `request` is
 * undici's URL wrapper around them, for the absolute URLs this client sends. package-lock.json pins the undici
 * these paths belong to, and the registry tests run every request through here. Both are CommonJS, which a split
 * bundle's dynamic import gives as `default` only.
 */
export function undici(): Promise<UndiciCore> {
  return (loaded ??= Promise.all([import('undici/lib/api/api-request.js'), import('undici/lib/global.js')]).then(([api, global]) => {
    const apiRequest = api.default;
    const { getGlobalDispatcher } = global.default;
    return {
      getGlobalDispatcher,
      request: (url, { dispatcher, ...options }) => {
        const u = typeof url === 'string' ? new URL(url) : url;
        return apiRequest.call(dispatcher, { ...options, origin: u.origin, path: `${u.pathname}${u.search}` });
      },
    };
  }));
}
