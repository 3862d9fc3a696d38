// The official `@anthropic-ai/sdk` npm client (pinned in package.json) against a Switchyard
// router's POST /v1/messages.
//
//   node tests/node/anthropic_client.mjs --base-url http://127.0.0.1:PORT \
//        --api-key KEY --user USER --models A,B [--failing-model NAME]
//
// For each of --models (asked for with X-Model-Prefer, so the key must allow it), runs:
//   plain      messages.create(...).withResponse(): id, content, usage, stop_reason, headers
//   stream     messages.stream(...): text deltas, the final message the SDK assembled
//   tools      a forced tool_use, plain and streamed (the SDK's input_json accumulation),
//              then the tool_result sent back and the text answer
// and once:
//   errors     wrong key (AuthenticationError 401), empty messages (BadRequestError 400),
//              failing provider (InternalServerError 502)
// and prints one JSON object with the results on stdout. maxRetries 0: every case is one
// HTTP request. Exit 0 when every case ran (the caller asserts the values), 1 when one
// threw something unexpected (reported in the JSON), 2 for bad usage.
import Anthropic from '@anthropic-ai/sdk';
import { VERSION } from '@anthropic-ai/sdk/version';

function usage(msg) {
  if (msg) process.stderr.write(`anthropic_client: ${msg}\n`);
  process.stderr.write(
    'usage: node anthropic_client.mjs --base-url URL --api-key KEY --user USER ' +
      '--models A,B [--failing-model NAME]\n',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const o = { baseURL: null, apiKey: null, user: null, models: null, failingModel: null };
  const flags = {
    '--base-url': 'baseURL',
    '--api-key': 'apiKey',
    '--user': 'user',
    '--models': 'models',
    '--failing-model': 'failingModel',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') usage();
    if (!(a in flags)) usage(`unknown argument '${a}'`);
    if (i + 1 >= argv.length) usage(`${a} needs a value`);
    o[flags[a]] = argv[++i];
  }
  for (const k of ['baseURL', 'apiKey', 'user', 'models'])
    if (!o[k]) usage(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required`);
  return o;
}

const opts = parseArgs(process.argv.slice(2));

function client(apiKey = opts.apiKey, model = null) {
  const headers = { 'X-User-Id': opts.user };
  if (model) headers['X-Model-Prefer'] = model;
  return new Anthropic({
    apiKey,
    baseURL: opts.baseURL,
    maxRetries: 0,
    timeout: 20_000,
    defaultHeaders: headers,
  });
}

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
    is_api_error: e instanceof Anthropic.APIError,
    status: e?.status ?? null,
    error: e?.error ?? null,
    message: e?.message ?? String(e),
    request_id: e?.headers?.get?.('x-request-id') ?? null,
  };
}

const ask = {
  model: 'auto',
  max_tokens: 200,
  system: 'You are a helpful assistant.',
  messages: [{ role: 'user', content: 'Summarise the plot of Hamlet in two sentences.' }],
};

async function plain(model) {
  const { data, response } = await client(opts.apiKey, model).messages.create(ask).withResponse();
  return {
    http_status: response.status,
    id: data.id,
    type: data.type,
    role: data.role,
    stop_reason: data.stop_reason,
    content: data.content,
    usage: data.usage,
    headers: routeHeaders(response.headers),
  };
}

async function streamed(model) {
  const stream = client(opts.apiKey, model).messages.stream(ask);
  const deltas = [];
  const events = [];
  stream.on('text', (t) => deltas.push(t));
  stream.on('streamEvent', (ev) => events.push(ev.type));
  const final = await stream.finalMessage();
  const { response } = await stream.withResponse();
  return {
    http_status: response.status,
    headers: routeHeaders(response.headers),
    deltas: deltas.length,
    text: deltas.join(''),
    events,
    final_text: final.content.filter((b) => b.type === 'text').map((b) => b.text).join(''),
    stop_reason: final.stop_reason,
    usage: final.usage,
  };
}

const tools = [
  {
    name: 'get_weather',
    description: 'Current weather of a city',
    input_schema: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city', 'unit'],
    },
  },
];
const toolAsk = {
  model: 'auto',
  max_tokens: 200,
  tools,
  tool_choice: { type: 'any' },
  messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
};

async function toolUse(model) {
  const c = client(opts.apiKey, model);
  const first = await c.messages.create(toolAsk);
  const use = first.content.find((b) => b.type === 'tool_use') ?? null;
  const stream = c.messages.stream(toolAsk);
  const final = await stream.finalMessage(); // the SDK assembles input_json_delta pieces
  const streamedUse = final.content.find((b) => b.type === 'tool_use') ?? null;
  const answer = await c.messages.create({
    model: 'auto',
    max_tokens: 200,
    tools,
    messages: [
      ...toolAsk.messages,
      { role: 'assistant', content: first.content },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: use?.id, content: 'sunny, 21 C' }],
      },
    ],
  });
  return {
    plain: { stop_reason: first.stop_reason, tool_use: use },
    stream: { stop_reason: final.stop_reason, tool_use: streamedUse },
    answer: {
      stop_reason: answer.stop_reason,
      text: answer.content.filter((b) => b.type === 'text').map((b) => b.text).join(''),
    },
  };
}

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
  out.wrong_key = await expectError(() => client(`${opts.apiKey}-wrong`).messages.create(ask));
  out.empty_messages = await expectError(() =>
    client().messages.create({ ...ask, messages: [] }),
  );
  if (opts.failingModel)
    out.failing_provider = await expectError(() =>
      client(opts.apiKey, opts.failingModel).messages.create(ask),
    );
  return out;
}

const result = { node: process.version, sdk_version: VERSION };
let failed = false;
const cases = [['errors', errors]];
for (const m of opts.models.split(',').filter(Boolean)) {
  cases.push([`plain_${m}`, () => plain(m)]);
  cases.push([`stream_${m}`, () => streamed(m)]);
  cases.push([`tools_${m}`, () => toolUse(m)]);
}
for (const [name, fn] of cases) {
  try {
    result[name] = await fn();
  } catch (e) {
    failed = true;
    result[name] = { unexpected_error: describeError(e), stack: e?.stack ?? null };
  }
}
process.stdout.write(JSON.stringify(result) + '\n');
process.exitCode = failed ? 1 : 0;
