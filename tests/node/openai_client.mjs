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
//   tools_<m>       for each --tool-models model (asked for with X-Model-Prefer): a forced
//                   tool call plain and streamed (argument deltas reassembled), then the
//                   tool's result sent back and the text answer
//   multimodal      content parts: text and an image (data: URL)
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
      '[--failing-model NAME] [--model NAME] [--tool-models A,B]\n',
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
    toolModels: process.env.SY_TOOL_MODELS || '',
  };
  const flags = {
    '--base-url': 'baseURL',
    '--api-key': 'apiKey',
    '--user': 'user',
    '--failing-model': 'failingModel',
    '--model': 'model',
    '--tool-models': 'toolModels',
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

const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather of a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
        required: ['city', 'unit'],
      },
    },
  },
];
const toolAsk = [{ role: 'user', content: 'What is the weather in Paris?' }];

async function toolsCase(model) {
  const opt = { headers: { 'X-Model-Prefer': model } };
  const plainCall = await client()
    .chat.completions.create({ model: opts.model, messages: toolAsk, tools, tool_choice: 'required' }, opt)
    .withResponse();
  const msg = plainCall.data.choices[0].message;
  const call = msg.tool_calls?.[0] ?? null;
  // streamed: the SDK hands over the deltas; they are reassembled here by index
  const stream = await client().chat.completions.create(
    { model: opts.model, messages: toolAsk, tools, tool_choice: 'required', stream: true },
    opt,
  );
  const acc = {};
  let finish = null;
  let deltas = 0;
  for await (const chunk of stream) {
    for (const ch of chunk.choices ?? []) {
      if (ch.finish_reason) finish = ch.finish_reason;
      for (const tc of ch.delta?.tool_calls ?? []) {
        deltas++;
        const a = (acc[tc.index] ??= { id: null, name: null, arguments: '' });
        if (tc.id) a.id = tc.id;
        if (tc.function?.name) a.name = tc.function.name;
        if (tc.function?.arguments) a.arguments += tc.function.arguments;
      }
    }
  }
  // the tool's result goes back; the model answers in text
  const followUp = await client().chat.completions.create(
    {
      model: opts.model,
      tools,
      messages: [
        ...toolAsk,
        { role: 'assistant', content: msg.content ?? null, tool_calls: msg.tool_calls },
        { role: 'tool', tool_call_id: call?.id, content: 'sunny, 21 C' },
      ],
    },
    opt,
  );
  return {
    plain: {
      finish_reason: plainCall.data.choices[0].finish_reason,
      content: msg.content ?? null,
      tool_calls: msg.tool_calls ?? null,
      arguments: call ? JSON.parse(call.function.arguments) : null,
      headers: routeHeaders(plainCall.response.headers),
    },
    stream: {
      finish_reason: finish,
      deltas,
      calls: Object.values(acc).map((a) => ({ ...a, arguments: JSON.parse(a.arguments) })),
    },
    follow_up: {
      finish_reason: followUp.choices[0].finish_reason,
      content: followUp.choices[0].message.content,
    },
  };
}

// 1x1 transparent PNG
const pixel =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

async function multimodal() {
  const { data, response } = await client()
    .chat.completions.create({
      model: opts.model,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Write a Python function that returns the width of this image.' },
            { type: 'image_url', image_url: { url: pixel } },
          ],
        },
      ],
    })
    .withResponse();
  return {
    http_status: response.status,
    content: data.choices?.[0]?.message?.content ?? null,
    usage: data.usage ?? null,
    headers: routeHeaders(response.headers),
  };
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
  ['multimodal', multimodal],
  ...opts.toolModels
    .split(',')
    .filter(Boolean)
    .map((m) => [`tools_${m}`, () => toolsCase(m)]),
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
