/** Reading a subscription over Server-Sent Events from an in-process yoga server. */

interface FetchesGraphql {
  fetch(url: string, init: RequestInit): Response | Promise<Response>;
}

/**
 * POSTs `query` with `Accept: text/event-stream` and reads the stream until `enough(text)`
 * holds for everything read so far (or the stream ends), calling `meanwhile` every 20 ms until
 * then (a subscription is registered asynchronously: a test publishes until an event comes).
 * Returns the text read and the response's content type; the stream is closed either way.
 */
export async function readSse(
  yoga: FetchesGraphql,
  query: string,
  enough: (text: string) => boolean,
  meanwhile?: () => void,
): Promise<{ text: string; contentType: string | null }> {
  const controller = new AbortController();
  const response = await yoga.fetch('http://tickql.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query }),
    signal: controller.signal,
  });
  const reader = response.body!.getReader();
  const timer = meanwhile ? setInterval(meanwhile, 20) : undefined;
  let text = '';
  try {
    while (!enough(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
  } finally {
    clearInterval(timer);
    controller.abort();
  }
  return { text, contentType: response.headers.get('content-type') };
}

/** The number of `next` events in SSE text. */
export function nextEvents(text: string): number {
  return (text.match(/event: next/g) ?? []).length;
}
