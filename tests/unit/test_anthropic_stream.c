/* wire/anthropic_stream: both SSE translators fed realistic event sequences, one
 * event block per call (text; tool calls with arguments split across deltas; cache
 * usage; errors and garbage), the exact events they write, and what a client
 * reassembles from them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "anthropic_json.h"
#include "wire/anthropic.h"

/* ---------- helpers ---------- */

/* Feeds each block (q()-converted) in its own call; returns the output. */
static char *feed_a2o(wa_stream_a2o *st, const char *const *blocks, size_t n)
{
    wa_buf out = {0};
    for (size_t i = 0; i < n; i++) {
        char *b = q(blocks[i]);
        assert_int_equal(wa_stream_a2o_event(st, b, strlen(b), &out), 0);
        free(b);
    }
    assert_int_equal(wa_buf_append(&out, "", 1), 0);
    return out.data;
}

static char *feed_o2a(wa_stream_o2a *st, const char *const *blocks, size_t n)
{
    wa_buf out = {0};
    for (size_t i = 0; i < n; i++) {
        char *b = q(blocks[i]);
        assert_int_equal(wa_stream_o2a_event(st, b, strlen(b), &out), 0);
        free(b);
    }
    assert_int_equal(wa_buf_append(&out, "", 1), 0);
    return out.data;
}

/* Checks the SSE text against want: "NAME|JSON" per event (NAME empty for OpenAI's
 * nameless events), or "[DONE]"; exact framing, JSON compared parsed. */
static void expect_sse(const char *sse, const char *const *want, size_t n)
{
    const char *p = sse;
    for (size_t i = 0; i < n; i++) {
        const char *end = strstr(p, "\n\n");
        if (!end)
            fail_msg("event %zu missing; rest: %s", i, p);
        char *ev = strndup(p, (size_t)(end - p));
        const char *bar = strchr(want[i], '|');
        if (!bar) {
            assert_string_equal(ev, "data: [DONE]");
        } else {
            char name[64] = "";
            const char *data = ev;
            if (bar > want[i]) {
                snprintf(name, sizeof(name), "event: %.*s\n", (int)(bar - want[i]), want[i]);
                if (strncmp(ev, name, strlen(name)))
                    fail_msg("event %zu: want %s got %s", i, name, ev);
                data += strlen(name);
            }
            if (strncmp(data, "data: ", 6))
                fail_msg("event %zu: no data line: %s", i, ev);
            json_t *got = json_loads(data + 6, 0, NULL);
            if (!got)
                fail_msg("event %zu: data not JSON: %s", i, data);
            expect_json(got, bar + 1);
        }
        free(ev);
        p = end + 2;
    }
    if (*p)
        fail_msg("unexpected trailing output: %s", p);
}


/* What an OpenAI client makes of a chunk stream. */
struct oai_result {
    char text[256];
    int ncalls;
    char id[4][32], name[4][32], args[4][256];
    char finish[32];
};

static void cat(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(dst);
    snprintf(dst + n, cap - n, "%s", s ? s : "");
}

static void reassemble_oai(const char *sse, struct oai_result *r)
{
    memset(r, 0, sizeof(*r));
    for (const char *p = sse; (p = strstr(p, "data: {")); p++) {
        json_t *c = json_loads(p + 6, JSON_DISABLE_EOF_CHECK, NULL);
        assert_non_null(c);
        json_t *ch = json_array_get(json_object_get(c, "choices"), 0);
        json_t *d = json_object_get(ch, "delta");
        cat(r->text, sizeof(r->text), json_string_value(json_object_get(d, "content")));
        size_t i;
        json_t *tc;
        json_array_foreach(json_object_get(d, "tool_calls"), i, tc) {
            json_int_t k = json_integer_value(json_object_get(tc, "index"));
            json_t *fn = json_object_get(tc, "function");
            assert_true(k >= 0 && k < 4);
            if (k >= r->ncalls)
                r->ncalls = (int)k + 1;
            cat(r->id[k], sizeof(r->id[k]), json_string_value(json_object_get(tc, "id")));
            cat(r->name[k], sizeof(r->name[k]), json_string_value(json_object_get(fn, "name")));
            cat(r->args[k], sizeof(r->args[k]),
                json_string_value(json_object_get(fn, "arguments")));
        }
        cat(r->finish, sizeof(r->finish), json_string_value(json_object_get(ch, "finish_reason")));
        json_decref(c);
    }
}

/* ---------- Anthropic -> OpenAI ---------- */

#define A_START                                                                                    \
    "event: message_start\ndata: {'type':'message_start','message':{'id':'msg_01X',"             \
    "'type':'message','role':'assistant','model':'claude-sonnet-4-5','content':[],"              \
    "'stop_reason':null,'stop_sequence':null,'usage':{'input_tokens':25,"                        \
    "'cache_creation_input_tokens':100,'cache_read_input_tokens':2000,'output_tokens':1}}}"
#define C_HEAD "'id':'chatcmpl-msg_01X','object':'chat.completion.chunk','created':1700000001," \
               "'model':'claude-sonnet-4-5'"
#define C_DELTA(d) "|{" C_HEAD ",'choices':[{'index':0,'delta':" d ",'finish_reason':null}]}"
#define C_FINISH(f) "|{" C_HEAD ",'choices':[{'index':0,'delta':{},'finish_reason':'" f "'}]}"

static void test_stream_a2o_text(void **state)
{
    (void)state;
    static const char *const in[] = {
        A_START,
        "event: content_block_start\ndata: {'type':'content_block_start','index':0,"
        "'content_block':{'type':'text','text':''}}",
        "event: ping\ndata: {'type': 'ping'}",
        "event: content_block_delta\ndata: {'type':'content_block_delta','index':0,"
        "'delta':{'type':'text_delta','text':'Hello'}}",
        "event: content_block_delta\r\ndata: {'type':'content_block_delta','index':0,"
        "'delta':{'type':'text_delta','text':', world'}}\r",
        "event: content_block_stop\ndata: {'type':'content_block_stop','index':0}",
        "event: message_delta\ndata: {'type':'message_delta','delta':{'stop_reason':'end_turn',"
        "'stop_sequence':null},'usage':{'output_tokens':15}}",
        "event: message_stop\ndata: {'type':'message_stop'}",
        "event: message_stop\ndata: {'type':'message_stop'}", /* after the end: nothing */
    };
    static const char *const want[] = {
        C_DELTA("{'role':'assistant','content':''}"),
        C_DELTA("{'content':'Hello'}"),
        C_DELTA("{'content':', world'}"),
        C_FINISH("stop"),
        "|{" C_HEAD ",'choices':[],'usage':{'prompt_tokens':2125,'completion_tokens':15,"
        "'total_tokens':2140,'prompt_tokens_details':{'cached_tokens':2000}}}",
        "[DONE]",
    };
    wa_stream_a2o st;
    wa_stream_a2o_init(&st, 1700000001, 1);
    char *out = feed_a2o(&st, in, N(in));
    expect_sse(out, want, N(want));
    free(out);
    assert_true(st.finished);
    assert_false(st.failed);
    assert_int_equal(st.ignored, 0);
    assert_int_equal(st.usage.input_tokens, 25);
    assert_int_equal(st.usage.cache_write_tokens, 100);
    assert_int_equal(st.usage.cache_read_tokens, 2000);
    assert_int_equal(st.usage.output_tokens, 15);
}

static void test_stream_a2o_tools(void **state)
{
    (void)state;
    static const char *const in[] = {
        A_START,
        "event: content_block_start\ndata: {'type':'content_block_start','index':0,"
        "'content_block':{'type':'text','text':''}}",
        "event: content_block_delta\ndata: {'type':'content_block_delta','index':0,"
        "'delta':{'type':'text_delta','text':'Let me check.'}}",
        "event: content_block_stop\ndata: {'type':'content_block_stop','index':0}",
        "event: content_block_start\ndata: {'type':'content_block_start','index':1,"
        "'content_block':{'type':'tool_use','id':'toolu_A','name':'weather','input':{}}}",
        "event: content_block_delta\ndata: {'type':'content_block_delta','index':1,"
        "'delta':{'type':'input_json_delta','partial_json':''}}",
        "event: content_block_delta\ndata: {'type':'content_block_delta','index':1,"
        "'delta':{'type':'input_json_delta','partial_json':'{\\\"city\\\": \\\"Par'}}",
        "event: content_block_delta\ndata: {'type':'content_block_delta','index':1,"
        "'delta':{'type':'input_json_delta','partial_json':'is\\\"}'}}",
        "event: content_block_stop\ndata: {'type':'content_block_stop','index':1}",
        "event: content_block_start\ndata: {'type':'content_block_start','index':2,"
        "'content_block':{'type':'tool_use','id':'toolu_B','name':'time','input':{}}}",
        "event: content_block_delta\ndata: {'type':'content_block_delta','index':2,"
        "'delta':{'type':'input_json_delta','partial_json':'{}'}}",
        /* a delta for a block that is not the open one: dropped, counted */
        "event: content_block_delta\ndata: {'type':'content_block_delta','index':1,"
        "'delta':{'type':'input_json_delta','partial_json':'x'}}",
        "event: content_block_stop\ndata: {'type':'content_block_stop','index':2}",
        "event: message_delta\ndata: {'type':'message_delta','delta':{'stop_reason':'tool_use',"
        "'stop_sequence':null},'usage':{'output_tokens':60}}",
        "event: message_stop\ndata: {'type':'message_stop'}",
    };
    static const char *const want[] = {
        C_DELTA("{'role':'assistant','content':''}"),
        C_DELTA("{'content':'Let me check.'}"),
        C_DELTA("{'tool_calls':[{'index':0,'id':'toolu_A','type':'function',"
                "'function':{'name':'weather','arguments':''}}]}"),
        C_DELTA("{'tool_calls':[{'index':0,'function':{'arguments':'{\\\"city\\\": \\\"Par'}}]}"),
        C_DELTA("{'tool_calls':[{'index':0,'function':{'arguments':'is\\\"}'}}]}"),
        C_DELTA("{'tool_calls':[{'index':1,'id':'toolu_B','type':'function',"
                "'function':{'name':'time','arguments':''}}]}"),
        C_DELTA("{'tool_calls':[{'index':1,'function':{'arguments':'{}'}}]}"),
        C_FINISH("tool_calls"),
        "[DONE]", /* no include_usage: no usage chunk */
    };
    wa_stream_a2o st;
    wa_stream_a2o_init(&st, 1700000001, 0);
    char *out = feed_a2o(&st, in, N(in));
    expect_sse(out, want, N(want));

    /* reassembled as a client would */
    struct oai_result r;
    reassemble_oai(out, &r);
    assert_string_equal(r.text, "Let me check.");
    assert_int_equal(r.ncalls, 2);
    assert_string_equal(r.id[0], "toolu_A");
    assert_string_equal(r.name[0], "weather");
    assert_string_equal(r.args[0], "{\"city\": \"Paris\"}");
    assert_string_equal(r.id[1], "toolu_B");
    assert_string_equal(r.args[1], "{}");
    assert_string_equal(r.finish, "tool_calls");
    free(out);
    assert_int_equal(st.ignored, 1);
    assert_int_equal(st.ntools, 2);
    assert_int_equal(st.usage.output_tokens, 60);
}

static void test_stream_a2o_errors(void **state)
{
    (void)state;
    /* garbage, unknown types and events before message_start: nothing, counted */
    static const char *const in[] = {
        "event: content_block_delta\ndata: {'type':'content_block_delta','index':0,"
        "'delta':{'type':'text_delta','text':'early'}}",
        "data: {not json",
        "event: ping",
        ": a comment",
        A_START,
        "event: brand_new\ndata: {'type':'brand_new','x':1}",
        "event: content_block_start\ndata: {'type':'content_block_start','index':'0'}",
        "event: content_block_delta\ndata: {'type':'content_block_delta','index':0,"
        "'delta':{'type':'text_delta','text':7}}",
        "event: content_block_delta\ndata: {'type':'content_block_delta','index':0,"
        "'delta':{'type':'thinking_delta','thinking':'hm'}}",
        "event: error\ndata: {'type':'error','error':{'type':'overloaded_error',"
        "'message':'Overloaded'}}",
        "event: message_stop\ndata: {'type':'message_stop'}", /* after the error: nothing */
    };
    static const char *const want[] = {
        C_DELTA("{'role':'assistant','content':''}"),
        "|{'error':{'message':'Overloaded','type':'api_error','param':null,"
        "'code':'overloaded_error'}}",
    };
    wa_stream_a2o st;
    wa_stream_a2o_init(&st, 1700000001, 1);
    char *out = feed_a2o(&st, in, N(in));
    expect_sse(out, want, N(want));
    free(out);
    assert_true(st.failed);
    assert_false(st.finished);
    assert_int_equal(st.ignored, 4); /* early delta, bad JSON, bad index, text 7 */

    /* a stream without message_delta still ends with a finish_reason */
    static const char *const in2[] = {A_START,
                                      "event: message_stop\ndata: {'type':'message_stop'}"};
    static const char *const want2[] = {C_DELTA("{'role':'assistant','content':''}"),
                                        C_FINISH("stop"), "[DONE]"};
    wa_stream_a2o_init(&st, 1700000001, 0);
    out = feed_a2o(&st, in2, N(in2));
    expect_sse(out, want2, N(want2));
    free(out);

    /* cut at max_tokens: length; a second message_delta only updates the usage */
    static const char *const in3[] = {
        A_START,
        "event: message_delta\ndata: {'type':'message_delta','delta':{'stop_reason':'max_tokens',"
        "'stop_sequence':null},'usage':{'output_tokens':3}}",
        "event: message_delta\ndata: {'type':'message_delta','delta':{'stop_reason':'end_turn'},"
        "'usage':{'output_tokens':4,'input_tokens':26}}",
    };
    static const char *const want3[] = {C_DELTA("{'role':'assistant','content':''}"),
                                        C_FINISH("length")};
    wa_stream_a2o_init(&st, 1700000001, 0);
    out = feed_a2o(&st, in3, N(in3));
    expect_sse(out, want3, N(want3));
    free(out);
    assert_int_equal(st.usage.output_tokens, 4);
    assert_int_equal(st.usage.input_tokens, 26);
    assert_int_equal(st.usage.cache_read_tokens, 2000);
}

/* ---------- OpenAI -> Anthropic ---------- */

#define O_HEAD "'id':'chatcmpl-9z','object':'chat.completion.chunk','created':5,'model':'gpt-4o'"
#define O_DELTA(d) "data: {" O_HEAD ",'choices':[{'index':0,'delta':" d ",'finish_reason':null}]}"
#define O_FINISH(f) "data: {" O_HEAD ",'choices':[{'index':0,'delta':{},'finish_reason':'" f "'}]}"
#define M_START                                                                                    \
    "message_start|{'type':'message_start','message':{'id':'msg_9z','type':'message',"         \
    "'role':'assistant','model':'gpt-4o','content':[],'stop_reason':null,"                     \
    "'stop_sequence':null,'usage':{'input_tokens':0,'cache_creation_input_tokens':0,"          \
    "'cache_read_input_tokens':0,'output_tokens':0}}}"

static void test_stream_o2a(void **state)
{
    (void)state;
    static const char *const in[] = {
        O_DELTA("{'role':'assistant','content':''}"),
        O_DELTA("{'content':'Let me '}"),
        ": keep-alive comment",
        O_DELTA("{'content':'check.'}"),
        O_DELTA("{'tool_calls':[{'index':0,'id':'call_A','type':'function',"
                "'function':{'name':'weather','arguments':''}}]}"),
        O_DELTA("{'tool_calls':[{'index':0,'function':{'arguments':'{\\\"city\\\":'}}]}"),
        O_DELTA("{'tool_calls':[{'index':0,'function':{'arguments':'\\\"Paris\\\"}'}}]}"),
        O_DELTA("{'tool_calls':[{'index':1,'id':'call_B','type':'function',"
                "'function':{'name':'time','arguments':'{}'}}]}"),
        O_FINISH("tool_calls"),
        "data: {" O_HEAD ",'choices':[],'usage':{'prompt_tokens':900,'completion_tokens':42,"
        "'total_tokens':942,'prompt_tokens_details':{'cached_tokens':512}}}",
        "data: [DONE]",
        "data: [DONE]", /* after the end: nothing */
    };
    static const char *const want[] = {
        M_START,
        "content_block_start|{'type':'content_block_start','index':0,"
        "'content_block':{'type':'text','text':''}}",
        "content_block_delta|{'type':'content_block_delta','index':0,"
        "'delta':{'type':'text_delta','text':'Let me '}}",
        "content_block_delta|{'type':'content_block_delta','index':0,"
        "'delta':{'type':'text_delta','text':'check.'}}",
        "content_block_stop|{'type':'content_block_stop','index':0}",
        "content_block_start|{'type':'content_block_start','index':1,"
        "'content_block':{'type':'tool_use','id':'call_A','name':'weather','input':{}}}",
        "content_block_delta|{'type':'content_block_delta','index':1,"
        "'delta':{'type':'input_json_delta','partial_json':'{\\\"city\\\":'}}",
        "content_block_delta|{'type':'content_block_delta','index':1,"
        "'delta':{'type':'input_json_delta','partial_json':'\\\"Paris\\\"}'}}",
        "content_block_stop|{'type':'content_block_stop','index':1}",
        "content_block_start|{'type':'content_block_start','index':2,"
        "'content_block':{'type':'tool_use','id':'call_B','name':'time','input':{}}}",
        "content_block_delta|{'type':'content_block_delta','index':2,"
        "'delta':{'type':'input_json_delta','partial_json':'{}'}}",
        "content_block_stop|{'type':'content_block_stop','index':2}",
        "message_delta|{'type':'message_delta','delta':{'stop_reason':'tool_use',"
        "'stop_sequence':null},'usage':{'input_tokens':388,'cache_creation_input_tokens':0,"
        "'cache_read_input_tokens':512,'output_tokens':42}}",
        "message_stop|{'type':'message_stop'}",
    };
    wa_stream_o2a st;
    wa_stream_o2a_init(&st);
    char *out = feed_o2a(&st, in, N(in));
    expect_sse(out, want, N(want));
    free(out);
    assert_true(st.finished);
    assert_int_equal(st.ignored, 0);
    assert_int_equal(st.usage.input_tokens, 388);
    assert_int_equal(st.usage.cache_read_tokens, 512);
    assert_int_equal(st.usage.output_tokens, 42);
}

static void test_stream_o2a_errors(void **state)
{
    (void)state;
    static const char *const in[] = {
        "data: {broken",
        "event: whatever\ndata: 17",
        O_DELTA("{'content':'Hi'}"),
        O_DELTA("{'tool_calls':[{'index':-1,'function':{'arguments':'x'}}]}"),
        O_DELTA("{'tool_calls':[{'index':9223372036854775807,'id':'c','function':{}}]}"),
        "data: {'error':{'message':'provider sim failed mid-stream for model big',"
        "'type':'api_error','param':null,'code':'upstream_error'}}",
        "data: [DONE]",
    };
    static const char *const want[] = {
        M_START,
        "content_block_start|{'type':'content_block_start','index':0,"
        "'content_block':{'type':'text','text':''}}",
        "content_block_delta|{'type':'content_block_delta','index':0,"
        "'delta':{'type':'text_delta','text':'Hi'}}",
        "error|{'type':'error','error':{'type':'api_error',"
        "'message':'provider sim failed mid-stream for model big'}}",
    };
    wa_stream_o2a st;
    wa_stream_o2a_init(&st);
    char *out = feed_o2a(&st, in, N(in));
    expect_sse(out, want, N(want));
    free(out);
    assert_true(st.failed);
    assert_false(st.finished);
    assert_int_equal(st.ignored, 4); /* broken, 17, index -1, index past INT_MAX */

    /* [DONE] alone still gives a well-formed message; an error type Anthropic knows is kept */
    static const char *const in2[] = {"data: [DONE]"};
    static const char *const want2[] = {
        "message_start|{'type':'message_start','message':{'id':'msg_openai','type':'message',"
        "'role':'assistant','model':'','content':[],'stop_reason':null,'stop_sequence':null,"
        "'usage':{'input_tokens':0,'cache_creation_input_tokens':0,'cache_read_input_tokens':0,"
        "'output_tokens':0}}}",
        "message_delta|{'type':'message_delta','delta':{'stop_reason':'end_turn',"
        "'stop_sequence':null},'usage':{'input_tokens':0,'cache_creation_input_tokens':0,"
        "'cache_read_input_tokens':0,'output_tokens':0}}",
        "message_stop|{'type':'message_stop'}",
    };
    wa_stream_o2a_init(&st);
    out = feed_o2a(&st, in2, N(in2));
    expect_sse(out, want2, N(want2));
    free(out);
    static const char *const in3[] = {"data: {'error':{'type':'rate_limit_error','message':'m'}}"};
    static const char *const want3[] = {
        "error|{'type':'error','error':{'type':'rate_limit_error','message':'m'}}"};
    wa_stream_o2a_init(&st);
    out = feed_o2a(&st, in3, N(in3));
    expect_sse(out, want3, N(want3));
    free(out);
}

/* ---------- both streams chained: Anthropic -> OpenAI -> Anthropic ---------- */

static void test_stream_chain(void **state)
{
    (void)state;
    static const char *const in[] = {
        A_START,
        "event: content_block_start\ndata: {'type':'content_block_start','index':0,"
        "'content_block':{'type':'tool_use','id':'toolu_Z','name':'f','input':{}}}",
        "event: content_block_delta\ndata: {'type':'content_block_delta','index':0,"
        "'delta':{'type':'input_json_delta','partial_json':'{\\\"k\\\":'}}",
        "event: content_block_delta\ndata: {'type':'content_block_delta','index':0,"
        "'delta':{'type':'input_json_delta','partial_json':'true}'}}",
        "event: content_block_stop\ndata: {'type':'content_block_stop','index':0}",
        "event: message_delta\ndata: {'type':'message_delta','delta':{'stop_reason':'tool_use',"
        "'stop_sequence':null},'usage':{'output_tokens':9}}",
        "event: message_stop\ndata: {'type':'message_stop'}",
    };
    wa_stream_a2o a;
    wa_stream_o2a o;
    wa_stream_a2o_init(&a, 1, 1);
    wa_stream_o2a_init(&o);
    char *mid = feed_a2o(&a, in, N(in));
    wa_buf out = {0};
    for (char *p = mid, *end; (end = strstr(p, "\n\n")); p = end + 2)
        assert_int_equal(wa_stream_o2a_event(&o, p, (size_t)(end - p), &out), 0);
    free(mid);
    assert_true(o.finished);
    /* OpenAI has no cache writes: they come back as plain input */
    assert_int_equal(o.usage.input_tokens, a.usage.input_tokens + a.usage.cache_write_tokens);
    assert_int_equal(o.usage.cache_write_tokens, 0);
    assert_int_equal(o.usage.cache_read_tokens, a.usage.cache_read_tokens);
    assert_int_equal(o.usage.output_tokens, 9);
    /* the tool call's input arrives whole */
    assert_int_equal(wa_buf_append(&out, "", 1), 0);
    assert_non_null(strstr(out.data, "{\"type\":\"tool_use\",\"id\":\"toolu_Z\",\"name\":\"f\""));
    assert_non_null(strstr(out.data, "\"partial_json\":\"{\\\"k\\\":\""));
    assert_non_null(strstr(out.data, "\"partial_json\":\"true}\""));
    assert_non_null(strstr(out.data, "\"stop_reason\":\"tool_use\""));
    wa_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_a2o_text),
        cmocka_unit_test(test_stream_a2o_tools),
        cmocka_unit_test(test_stream_a2o_errors),
        cmocka_unit_test(test_stream_o2a),
        cmocka_unit_test(test_stream_o2a_errors),
        cmocka_unit_test(test_stream_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
