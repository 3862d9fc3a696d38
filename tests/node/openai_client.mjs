// The official `openai` npm client (pinned in package.json) against a Switchyard router.
//
//   node tests/node/openai_client.mjs --base-url http://127.0.0.1:PORT/v1 \
//        --api-key KEY --user USER [--failing-model NAME] [--model auto]
//
// Every option may also come from the environment: SY_BASE_URL, SY_API_KEY, SY_USER_ID,
// SY_FAILING_MODEL, SY_MODEL. --failing-model names a router model whose provider
// always fails; it is asked for with X-Model-Prefer, so the API key must allow it.
//
// Runs, in order:
//   plain           chat.completions.create(...).withResponse(): id, content, usage, headers
//   stream_usage    stream with stream_options.include_usage: deltas and the usage chunk
//   stream_no_usage stream without include_usage: deltas, and no chunk may carry usage
//   errors          wrong key (AuthenticationError 401), malformed messages
//                   (BadRequestError 400), failing provider (APIError 502)
// and prints one JSON object with the results on stdout. Client retries are off
// (maxRetries 0) so every case is exactly one HTTP request. Exit status 0 when every
// case ran (the caller asserts the values), 1 when one threw something unexpected
// (also reported in the JSON), 2 for bad usage.
import OpenAI from 'openai';
import { VERSION } from 'openai/version';

function usage(msg) {
  if (msg) process.stderr.write(`openai_client: ${msg}\n`);
  process.stderr.write(
    'usage: node openai_client.mjs --base-url URL --api-key KEY --user USER ' +
      '[--failing-model NAME] [--model NAME]\n',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    baseURL: process.env.SY_BASE_URL,
    apiKey: process.env.SY_API_KEY,
    user: process.env.SY_USER_ID,
    failingModel: process.env.SY_FAILING_MODEL,
    model: process.env.SY_MODEL || 'auto',
  };
  const flags = {
    '--base-url': 'baseURL',
    '--api-key': 'apiKey',
    '--user': 'user',
    '--failing-model': 'failingModel',
    '--model': 'model',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') usage();
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (!(name in flags)) usage(`unknown argument '${a}'`);
    let v;
    if (eq > 0) v = a.slice(eq + 1);
    else if (i + 1 < argv.length) v = argv[++i];
    else usage(`${a} needs a value`);
    o[flags[name]] = v;
  }
  if (!o.baseURL) usage('--base-url (or SY_BASE_URL) is required');
  if (!o.apiKey) usage('--api-key (or SY_API_KEY) is required');
  if (!o.user) usage('--user (or SY_USER_ID) is required');
  return o;
}

const opts = parseArgs(process.argv.slice(2));

function client(apiKey = opts.apiKey) {
  return new OpenAI({
    apiKey,
    baseURL: opts.baseURL,
    maxRetries: 0,
    timeout: 20_000,
    defaultHeaders: { 'X-User-Id': opts.user },
  });
}

const messages = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Summarise the plot of Hamlet in two sentences.' },
];

function routeHeaders(headers) {
  const out = {};
  for (const [k, v] of headers.entries()) {
    const lk = k.toLowerCase();
    if (lk === 'x-request-id' || lk.startsWith('x-route-')) out[lk] = v;
  }
  return out;
}

function describeError(e) {
  return {
    class: e?.constructor?.name ?? typeof e,
    is_api_error: e instanceof OpenAI.APIError,
    is_authentication_error: e instanceof OpenAI.AuthenticationError,
    is_bad_request_error: e instanceof OpenAI.BadRequestError,
    is_internal_server_error: e instanceof OpenAI.InternalServerError,
    is_connection_error: e instanceof OpenAI.APIConnectionError,
    status: e?.status ?? null,
    code: e?.code ?? null,
    type: e?.type ?? null,
    param: e?.param ?? null,
    message: e?.message ?? String(e),
    error: e?.error ?? null,
    request_id: e?.headers?.get?.('x-request-id') ?? null,
  };
}

async function plain() {
  const { data, response, request_id } = await client()
    .chat.completions.create({ model: opts.model, messages })
    .withResponse();
  return {
    id: data.id,
    object: data.object,
    model: data.model,
    content: data.choices?.[0]?.message?.content ?? null,
    role: data.choices?.[0]?.message?.role ?? null,
    finish_reason: data.choices?.[0]?.finish_reason ?? null,
    usage: data.usage ?? null,
    http_status: response.status,
    request_id, // the SDK's own reading of x-request-id
    headers: routeHeaders(response.headers),
  };
}

async function streamed(includeUsage) {
  const params = { model: opts.model, messages, stream: true };
  if (includeUsage) params.stream_options = { include_usage: true };
  const { data: stream, response } = await client()
    .chat.completions.create(params)
    .withResponse();
  const deltas = [];
  const usageChunks = [];
  let chunks = 0;
  let emptyChoiceChunks = 0;
  let finishReason = null;
  const ids = new Set();
  for await (const chunk of stream) {
    chunks++;
    ids.add(chunk.id);
    if (chunk.usage) usageChunks.push(chunk.usage);
    if (!chunk.choices || chunk.choices.length === 0) emptyChoiceChunks++;
    for (const ch of chunk.choices ?? []) {
      if (ch.delta?.content) deltas.push(ch.delta.content);
      if (ch.finish_reason) finishReason = ch.finish_reason;
    }
  }
  return {
    http_status: response.status,
    content_type: response.headers.get('content-type'),
    headers: routeHeaders(response.headers),
    chunks,
    deltas: deltas.length,
    content: deltas.join(''),
    finish_reason: finishReason,
    chunk_ids: [...ids],
    empty_choice_chunks: emptyChoiceChunks,
    usage_chunks: usageChunks.length,
    usage: usageChunks.length ? usageChunks[usageChunks.length - 1] : null,
  };
}

// One call that must throw; the result describes what it threw.
async function expectError(fn) {
  try {
    const r = await fn();
    return { threw: false, result: r?.id ?? null };
  } catch (e) {
    return { threw: true, ...describeError(e) };
  }
}

async function errors() {
  const out = {};
  out.wrong_key = await expectError(() =>
    client(`${opts.apiKey}-wrong`).chat.completions.create({ model: opts.model, messages }),
  );
  out.malformed_messages = await expectError(() =>
    // no role: the SDK sends it as is (no client-side validation), the router refuses it
    client().chat.completions.create({ model: opts.model, messages: [{ content: 'hi' }] }),
  );
  if (opts.failingModel) {
    out.failing_provider = await expectError(() =>
      client().chat.completions.create(
        { model: opts.model, messages },
        { headers: { 'X-Model-Prefer': opts.failingModel } },
      ),
    );
  }
  return out;
}

const result = {
  node: process.version,
  openai_version: VERSION,
};
let failed = false;
for (const [name, fn] of [
  ['plain', plain],
  ['stream_usage', () => streamed(true)],
  ['stream_no_usage', () => streamed(false)],
  ['errors', errors],
]) {
  try {
    result[name] = await fn();
  } catch (e) {
    failed = true;
    result[name] = { unexpected_error: describeError(e), stack: e?.stack ?? null };
  }
}
if (result.stream_no_usage && !result.stream_no_usage.unexpected_error) {
  // the contract: without include_usage no chunk carries usage
  result.stream_no_usage.no_usage_chunk = result.stream_no_usage.usage_chunks === 0;
  if (!result.stream_no_usage.no_usage_chunk) failed = true;
}
process.stdout.write(JSON.stringify(result) + '\n');
process.exitCode = failed ? 1 : 0;
