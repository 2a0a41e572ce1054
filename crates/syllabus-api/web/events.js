// The API's server-sent event streams, followed with fetch (EventSource cannot send the
// Authorization header).

import { API, ApiError, failure, headers } from './api.js';

// Reads a stream's blocks (`event:`, `data:`, `id:`, `retry:` lines; line ends CRLF, LF or CR)
// and calls `onBlock(event, data, id, retry)` for each block with data; `id` and `retry` are
// undefined when the block has none. Resolves when the stream ends.
async function readBlocks(reader, onBlock) {
  let buffer = '';
  let carry = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    // A CR at the end of a chunk may be half of a CRLF.
    let text = carry + value;
    carry = text.endsWith('\r') ? '\r' : '';
    if (carry) text = text.slice(0, -1);
    buffer += text.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      let id;
      let retry;
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = text;
        else if (field === 'data') data.push(text);
        else if (field === 'id') id = text;
        else if (field === 'retry' && /^\d+$/.test(text)) retry = Number(text);
      }
      onBlock(event, data, id, retry);
    }
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Follows a server-sent event stream until `onEvent` returns true (the stream's end), the stream
// ends after a final event, or `signal` aborts. Reconnects with Last-Event-ID after the server's
// `retry:` delay, so a dropped connection resumes where it stopped. A stream that ends without a
// final event asks `onEnd` (when given) first: it resolves true when there is nothing more to
// follow (the server also ends a plan's stream when its generation was cancelled or gave up).
export async function follow(path, onEvent, signal, onEnd) {
  let lastId = null;
  let retry = 2000;
  while (!signal.aborted) {
    let finished = false;
    try {
      const extra = { Accept: 'text/event-stream' };
      if (lastId) extra['Last-Event-ID'] = lastId;
      const res = await fetch(API + path, { headers: headers(extra), signal });
      if (!res.ok) throw await failure(res, path);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      await readBlocks(reader, (event, data, id, delay) => {
        if (id !== undefined) lastId = id;
        if (delay !== undefined) retry = delay;
        if (data.length === 0) return;
        if (onEvent(event, JSON.parse(data.join('\n')))) finished = true;
      });
      if (finished) return;
      if (onEnd && !signal.aborted && (await onEnd())) return;
    } catch (error) {
      if (signal.aborted) return;
      // Too many streams open at once (other tabs): wait as the server asks, then try again.
      if (error instanceof ApiError && error.status === 429) {
        await sleep(Math.max(retry, 5000));
        continue;
      }
      if (error instanceof ApiError && error.status < 500) throw error;
    }
    await sleep(retry);
  }
}

// Follows a job's stream to its terminal status; resolves with the final Job.
export async function followJob(id, signal) {
  let last = null;
  await follow(
    `/jobs/${id}/events`,
    (event, job) => {
      if (event !== 'status') return false;
      last = job;
      return ['completed', 'failed', 'cancelled'].includes(job.status);
    },
    signal,
  );
  return last;
}
