/* wire/anthropic: the requests, answers and errors in both directions, pinned as
 * exact JSON (compared parsed), the exact error messages and statuses, and a round
 * trip OpenAI -> Anthropic -> OpenAI. The streams are in test_anthropic_stream.c. */
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

/* "a" and 20 or 15 e-acutes (2 bytes each): 41 bytes of outside text, and the 31 bytes
 * of it a message quotes (cut before the sequence that would pass 32) */
#define E5 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
#define E15 "a" E5 E5 E5
#define E20 E15 E5

static json_t *o2a_req(const char *openai)
{
    json_t *in = jq(openai), *out = NULL;
    char err[256] = "";
    if (wa_req_openai_to_anthropic(in, "claude-x", &out, err, sizeof(err)))
        fail_msg("refused: %s", err);
    json_decref(in);
    return out;
}

static void o2a_req_err(const char *openai, const char *want)
{
    json_t *in = jq(openai), *out = (json_t *)1;
    char err[256] = "";
    assert_int_equal(wa_req_openai_to_anthropic(in, "claude-x", &out, err, sizeof(err)), -1);
    assert_null(out);
    assert_string_equal(err, want);
    json_decref(in);
}

static json_t *a2o_req(const char *anthropic)
{
    json_t *in = jq(anthropic), *out = NULL;
    wa_error e = {0};
    if (wa_req_anthropic_to_openai(in, &out, &e))
        fail_msg("refused: %s", e.message);
    json_decref(in);
    return out;
}

static void a2o_req_err(const char *anthropic, const char *want)
{
    json_t *in = jq(anthropic), *out = (json_t *)1;
    wa_error e = {0};
    assert_int_equal(wa_req_anthropic_to_openai(in, &out, &e), -1);
    assert_null(out);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.type, "invalid_request_error");
    assert_string_equal(e.message, want);
    json_decref(in);
}

/* ---------- requests, OpenAI -> Anthropic ---------- */

static void test_req_o2a_full(void **state)
{
    (void)state;
    expect_json(
        o2a_req("{'model':'big','temperature':0.5,'top_p':0.9,'stop':'END','stream':true,"
                "'user':'u-1','n':1,'seed':7,'stream_options':{'include_usage':true},"
                "'max_completion_tokens':300,'max_tokens':999,"
                "'messages':["
                "{'role':'system','content':'Be brief.'},"
                "{'role':'developer','content':[{'type':'text','text':'Use French.'}]},"
                "{'role':'user','content':[{'type':'text','text':'What is this?'},"
                "  {'type':'image_url','image_url':{'url':'data:image/png;base64,iVBORw0K',"
                "   'detail':'high'}},"
                "  {'type':'image_url','image_url':{'url':'https://example.com/cat.jpg'}}]},"
                "{'role':'assistant','content':null,'tool_calls':["
                "  {'id':'call_1','type':'function','function':{'name':'weather',"
                "   'arguments':'{\\\"city\\\":\\\"Paris\\\"}'}},"
                "  {'id':'call_2','type':'function','function':{'name':'time','arguments':''}}]},"
                "{'role':'tool','tool_call_id':'call_1','content':'18C'},"
                "{'role':'tool','tool_call_id':'call_2','content':[{'type':'text','text':'noon'}]},"
                "{'role':'user','content':'Thanks'},"
                "{'role':'user','content':'And tomorrow?'}],"
                "'tools':[{'type':'function','function':{'name':'weather','description':'W',"
                "  'parameters':{'type':'object','properties':{'city':{'type':'string'}}}}},"
                "  {'type':'function','function':{'name':'time'}}],"
                "'tool_choice':'required','parallel_tool_calls':false}"),
        "{'model':'claude-x','max_tokens':300,'temperature':0.5,'top_p':0.9,"
        "'stop_sequences':['END'],'stream':true,'metadata':{'user_id':'u-1'},"
        "'system':'Be brief.\\n\\nUse French.',"
        "'messages':["
        "{'role':'user','content':[{'type':'text','text':'What is this?'},"
        "  {'type':'image','source':{'type':'base64','media_type':'image/png','data':'iVBORw0K'}},"
        "  {'type':'image','source':{'type':'url','url':'https://example.com/cat.jpg'}}]},"
        "{'role':'assistant','content':["
        "  {'type':'tool_use','id':'call_1','name':'weather','input':{'city':'Paris'}},"
        "  {'type':'tool_use','id':'call_2','name':'time','input':{}}]},"
        "{'role':'user','content':["
        "  {'type':'tool_result','tool_use_id':'call_1','content':'18C'},"
        "  {'type':'tool_result','tool_use_id':'call_2','content':[{'type':'text','text':'noon'}]},"
        "  {'type':'text','text':'Thanks'},{'type':'text','text':'And tomorrow?'}]}],"
        "'tools':[{'name':'weather','description':'W',"
        "  'input_schema':{'type':'object','properties':{'city':{'type':'string'}}}},"
        "  {'name':'time','input_schema':{'type':'object','properties':{}}}],"
        "'tool_choice':{'type':'any','disable_parallel_tool_use':true}}");
}

static void test_req_o2a_defaults(void **state)
{
    (void)state;
    /* no cap: the default; no system; string content stays a string */
    expect_json(o2a_req("{'model':'m','messages':[{'role':'user','content':'hi'}]}"),
                "{'model':'claude-x','max_tokens':4096,"
                "'messages':[{'role':'user','content':'hi'}]}");
    /* max_tokens when max_completion_tokens is absent or null; stop as an array */
    expect_json(o2a_req("{'max_completion_tokens':null,'max_tokens':12,'stop':['a','b'],"
                        "'messages':[{'role':'user','content':'hi'},"
                        "{'role':'assistant','content':'yo'}]}"),
                "{'model':'claude-x','max_tokens':12,'stop_sequences':['a','b'],"
                "'messages':[{'role':'user','content':'hi'},{'role':'assistant','content':'yo'}]}");
    /* assistant text with tool calls: the text block first, empty text dropped */
    expect_json(o2a_req("{'messages':[{'role':'user','content':'hi'},"
                        "{'role':'assistant','content':'Let me look.','tool_calls':[{'id':'c',"
                        "'type':'function','function':{'name':'f','arguments':' {} '}}]}]}"),
                "{'model':'claude-x','max_tokens':4096,'messages':[{'role':'user','content':'hi'},"
                "{'role':'assistant','content':[{'type':'text','text':'Let me look.'},"
                "{'type':'tool_use','id':'c','name':'f','input':{}}]}]}");
    /* tool_choice mappings; none keeps no disable flag; no tool_choice without tools */
    static const struct {
        const char *in, *want;
    } choices[] = {
        {"'tool_choice':'auto'", "{'type':'auto'}"},
        {"'tool_choice':'none','parallel_tool_calls':false", "{'type':'none'}"},
        {"'tool_choice':{'type':'function','function':{'name':'f'}}",
         "{'type':'tool','name':'f'}"},
        {"'parallel_tool_calls':false", "{'type':'auto','disable_parallel_tool_use':true}"},
        {"'parallel_tool_calls':true", NULL},
        {"'tool_choice':null", NULL},
    };
    for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{'messages':[{'role':'user','content':'hi'}],"
                 "'tools':[{'type':'function','function':{'name':'f'}}],%s}",
                 choices[i].in);
        json_t *got = o2a_req(body);
        json_t *tc = json_object_get(got, "tool_choice");
        if (choices[i].want)
            expect_json(json_incref(tc), choices[i].want);
        else
            assert_null(tc);
        json_decref(got);
    }
    json_t *got = o2a_req("{'messages':[{'role':'user','content':'hi'}],'tool_choice':'required',"
                          "'tools':[]}");
    assert_null(json_object_get(got, "tool_choice"));
    assert_null(json_object_get(got, "tools"));
    json_decref(got);
}

static void test_req_o2a_errors(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"[]", "body: not a JSON object"},
        {"{}", "messages: missing or not an array"},
        {"{'messages':[]}", "messages: no user or assistant message"},
        {"{'messages':[{'role':'system','content':'s'}]}",
         "messages: no user or assistant message"},
        {"{'messages':[1]}", "messages[0]: not an object"},
        {"{'messages':[{'content':'x'}]}", "messages[0].role: missing or not a string"},
        {"{'messages':[{'role':'function','content':'x'}]}",
         "messages[0].role: unsupported role \"function\""},
        /* quoted outside text: at most 32 bytes, never half a UTF-8 sequence */
        {"{'messages':[{'role':'" E20 "'}]}", "messages[0].role: unsupported role \"" E15 "\""},
        {"{'messages':[{'role':'user','content':''}]}", "messages[0].content: empty"},
        {"{'messages':[{'role':'user','content':5}]}",
         "messages[0].content: not a string, an array of parts or null"},
        {"{'messages':[{'role':'user','content':[{'type':'input_audio'}]}]}",
         "messages[0].content[0].type: unsupported content part type \"input_audio\""},
        {"{'messages':[{'role':'user','content':[{'type':'text'}]}]}",
         "messages[0].content[0].text: missing or not a string"},
        {"{'messages':[{'role':'user','content':[{'type':'image_url','image_url':{}}]}]}",
         "messages[0].content[0].image_url.url: missing or not a string"},
        {"{'messages':[{'role':'user','content':[{'type':'image_url',"
         "'image_url':{'url':'ftp://x/y.png'}}]}]}",
         "messages[0].content[0].image_url.url: not an http(s) URL or a data:<media type>;base64, "
         "URL"},
        {"{'messages':[{'role':'user','content':[{'type':'image_url',"
         "'image_url':{'url':'data:image/png,abc'}}]}]}",
         "messages[0].content[0].image_url.url: not an http(s) URL or a data:<media type>;base64, "
         "URL"},
        {"{'messages':[{'role':'system','content':[{'type':'image_url'}]}]}",
         "messages[0].content[0].type: unsupported content part type \"image_url\""},
        {"{'messages':[{'role':'user','content':'a'},{'role':'assistant','content':''}]}",
         "messages[1]: no content and no tool_calls"},
        {"{'messages':[{'role':'user','content':'a'},{'role':'user','content':'b'},"
         "{'role':'assistant','tool_calls':[{'id':'c','function':{'name':'f',"
         "'arguments':'[1]'}}]}]}",
         "messages[2].tool_calls[0].function.arguments: not a JSON object"},
        {"{'messages':[{'role':'user','content':'a'},{'role':'assistant','tool_calls':[{'id':'c',"
         "'function':{'name':'f','arguments':'{oops'}}]}]}",
         "messages[1].tool_calls[0].function.arguments: not a JSON object"},
        {"{'messages':[{'role':'assistant','tool_calls':[{'function':{'name':'f'}}]}]}",
         "messages[0].tool_calls[0].id: missing or not a string"},
        {"{'messages':[{'role':'assistant','tool_calls':[{'id':'c','function':{'name':'f'}}]}]}",
         "messages[0].tool_calls[0].function.arguments: missing or not a string"},
        {"{'messages':[{'role':'assistant','tool_calls':{}}]}",
         "messages[0].tool_calls: not an array"},
        {"{'messages':[{'role':'tool','content':'x'}]}",
         "messages[0].tool_call_id: missing or not a string"},
        {"{'messages':[{'role':'user','content':'a'}],'max_tokens':0}",
         "max_tokens: not a positive integer"},
        {"{'messages':[{'role':'user','content':'a'}],'max_completion_tokens':'9'}",
         "max_completion_tokens: not a positive integer"},
        {"{'messages':[{'role':'user','content':'a'}],'temperature':'hot'}",
         "temperature: not a number"},
        {"{'messages':[{'role':'user','content':'a'}],'stop':[1]}",
         "stop: not a string or an array of strings"},
        {"{'messages':[{'role':'user','content':'a'}],'stream':1}", "stream: not a boolean"},
        {"{'messages':[{'role':'user','content':'a'}],'user':7}", "user: not a string"},
        {"{'messages':[{'role':'user','content':'a'}],'tools':{}}", "tools: not an array"},
        {"{'messages':[{'role':'user','content':'a'}],'tools':[{'type':'web_search'}]}",
         "tools[0].type: unsupported tool type \"web_search\""},
        {"{'messages':[{'role':'user','content':'a'}],'tools':[{'type':'function',"
         "'function':{}}]}",
         "tools[0].function.name: missing or not a string"},
        {"{'messages':[{'role':'user','content':'a'}],'tools':[{'type':'function',"
         "'function':{'name':'f','parameters':[]}}]}",
         "tools[0].function.parameters: not an object"},
        {"{'messages':[{'role':'user','content':'a'}],'tools':[{'type':'function',"
         "'function':{'name':'f'}}],'tool_choice':'sometimes'}",
         "tool_choice: not \"auto\", \"required\", \"none\" or "
         "{\"type\":\"function\",\"function\":{\"name\":...}}"},
        {"{'messages':[{'role':'user','content':'a'}],'tools':[{'type':'function',"
         "'function':{'name':'f'}}],'parallel_tool_calls':'no'}",
         "parallel_tool_calls: not a boolean"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        o2a_req_err(cases[i][0], cases[i][1]);
}

/* ---------- answers, Anthropic -> OpenAI ---------- */

static json_t *a2o_resp(const char *body, wa_usage *u)
{
    char *b = q(body);
    json_t *out = NULL;
    char err[256] = "";
    if (wa_resp_anthropic_to_openai(b, strlen(b), 1700000000, &out, u, err, sizeof(err)))
        fail_msg("refused: %s", err);
    free(b);
    return out;
}

static void test_resp_a2o(void **state)
{
    (void)state;
    wa_usage u = {0};
    expect_json(a2o_resp("{'id':'msg_01A','type':'message','role':'assistant',"
                         "'model':'claude-sonnet-4-5','content':["
                         "{'type':'thinking','thinking':'hmm','signature':'s'},"
                         "{'type':'text','text':'Checking '},{'type':'text','text':'now.'},"
                         "{'type':'tool_use','id':'toolu_1','name':'weather',"
                         " 'input':{'city':'Paris','days':[1, 2]}}],"
                         "'stop_reason':'tool_use','stop_sequence':null,"
                         "'usage':{'input_tokens':10,'cache_creation_input_tokens':20,"
                         "'cache_read_input_tokens':300,'output_tokens':40}}",
                         &u),
                "{'id':'chatcmpl-msg_01A','object':'chat.completion','created':1700000000,"
                "'model':'claude-sonnet-4-5','choices':[{'index':0,'message':{'role':'assistant',"
                "'content':'Checking now.','tool_calls':[{'id':'toolu_1','type':'function',"
                "'function':{'name':'weather','arguments':'{\\\"city\\\":\\\"Paris\\\","
                "\\\"days\\\":[1,2]}'}}]},'finish_reason':'tool_calls'}],"
                "'usage':{'prompt_tokens':330,'completion_tokens':40,'total_tokens':370,"
                "'prompt_tokens_details':{'cached_tokens':300}}}");
    assert_int_equal(u.input_tokens, 10);
    assert_int_equal(u.cache_write_tokens, 20);
    assert_int_equal(u.cache_read_tokens, 300);
    assert_int_equal(u.output_tokens, 40);
    assert_int_equal(wa_usage_prompt_tokens(&u), 330);

    /* no text: content null; stop reasons */
    static const char *const stops[][2] = {
        {"'end_turn'", "stop"},     {"'stop_sequence'", "stop"},
        {"'max_tokens'", "length"}, {"'tool_use'", "tool_calls"},
        {"'refusal'", "content_filter"}, {"'pause_turn'", "stop"},
        {"null", "stop"},
    };
    for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
        char body[256], want[512];
        snprintf(body, sizeof(body),
                 "{'id':'m','model':'c','content':[],'stop_reason':%s,"
                 "'usage':{'input_tokens':-5,'output_tokens':'x'}}",
                 stops[i][0]);
        snprintf(want, sizeof(want),
                 "{'id':'chatcmpl-m','object':'chat.completion','created':1700000000,'model':'c',"
                 "'choices':[{'index':0,'message':{'role':'assistant','content':null},"
                 "'finish_reason':'%s'}],'usage':{'prompt_tokens':0,'completion_tokens':0,"
                 "'total_tokens':0,'prompt_tokens_details':{'cached_tokens':0}}}",
                 stops[i][1]);
        expect_json(a2o_resp(body, NULL), want);
    }
}

static void test_resp_a2o_errors(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"", "body: not JSON (line 1, column 0)"},
        {"{'id':\n'\xff'}", "body: not JSON (line 2, column 1)"},
        {"[1]", "body: not a JSON object"},
        {"{'type':'error','error':{}}", "type: \"error\", not a message"},
        {"{'content':[]}", "id: missing or not a string"},
        {"{'id':'m','content':{}}", "content: missing or not an array"},
        {"{'id':'m','content':[{'type':'text'}]}", "content[0].text: missing or not a string"},
        {"{'id':'m','content':[{'type':'text','text':'a'},{'type':'tool_use','id':'t'}]}",
         "content[1]: tool_use without a string id and name"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *b = q(cases[i][0]);
        json_t *out = (json_t *)1;
        char err[256] = "";
        wa_usage u = {7, 7, 7, 7};
        assert_int_equal(wa_resp_anthropic_to_openai(b, strlen(b), 1, &out, &u, err, sizeof(err)),
                         -1);
        assert_null(out);
        assert_string_equal(err, cases[i][1]);
        assert_int_equal(u.input_tokens, 7); /* untouched */
        free(b);
    }
}

static void test_error_a2o(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        {"{'type':'error','error':{'type':'overloaded_error','message':'Overloaded'}}", "529",
         "{'error':{'message':'Overloaded','type':'api_error','param':null,"
         "'code':'overloaded_error'}}"},
        {"{'type':'error','error':{'type':'invalid_request_error','message':'bad'}}", "400",
         "{'error':{'message':'bad','type':'invalid_request_error','param':null,"
         "'code':'invalid_request_error'}}"},
        {"{'type':'error','error':{'type':'not_found_error','message':'no model'}}", "404",
         "{'error':{'message':'no model','type':'invalid_request_error','param':null,"
         "'code':'not_found_error'}}"},
        {"{'type':'error','error':{'type':'authentication_error','message':'key'}}", "401",
         "{'error':{'message':'key','type':'authentication_error','param':null,"
         "'code':'authentication_error'}}"},
        {"{'type':'error','error':{'type':'rate_limit_error','message':'slow down'}}", "429",
         "{'error':{'message':'slow down','type':'api_error','param':null,"
         "'code':'rate_limit_error'}}"},
        {"<html>bad gateway</html>", "502",
         "{'error':{'message':'provider answered HTTP 502','type':'api_error','param':null,"
         "'code':'api_error'}}"},
        {"{}", "413",
         "{'error':{'message':'provider answered HTTP 413','type':'invalid_request_error',"
         "'param':null,'code':'request_too_large'}}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *b = q(cases[i][0]);
        json_t *out = NULL;
        assert_int_equal(wa_error_anthropic_to_openai(b, strlen(b), atoi(cases[i][1]), &out), 0);
        expect_json(out, cases[i][2]);
        free(b);
    }
}

/* ---------- requests, Anthropic -> OpenAI ---------- */

static void test_req_a2o_full(void **state)
{
    (void)state;
    expect_json(
        a2o_req("{'model':'claude-x','max_tokens':1024,'top_k':5,'thinking':{'type':'enabled'},"
                "'system':[{'type':'text','text':'Be brief.','cache_control':{'type':'ephemeral'}},"
                "  {'type':'text','text':'Use French.'}],"
                "'temperature':0.2,'top_p':1,'stop_sequences':['END'],'stream':true,"
                "'metadata':{'user_id':'u-9'},"
                "'messages':["
                "{'role':'user','content':[{'type':'text','text':'What is this?'},"
                "  {'type':'image','source':{'type':'base64','media_type':'image/png',"
                "   'data':'iVBORw0K'}},"
                "  {'type':'image','source':{'type':'url','url':'https://example.com/c.jpg'}}]},"
                "{'role':'assistant','content':[{'type':'thinking','thinking':'t','signature':'s'},"
                "  {'type':'text','text':'Checking.'},"
                "  {'type':'tool_use','id':'toolu_1','name':'weather','input':{'city':'Paris'}},"
                "  {'type':'tool_use','id':'toolu_2','name':'time','input':{}}]},"
                "{'role':'user','content':["
                "  {'type':'tool_result','tool_use_id':'toolu_1','content':'18C','is_error':false},"
                "  {'type':'tool_result','tool_use_id':'toolu_2',"
                "   'content':[{'type':'text','text':'noon'}]},"
                "  {'type':'text','text':'Thanks'}]},"
                "{'role':'assistant','content':'Bye'}],"
                "'tools':[{'name':'weather','description':'W','input_schema':{'type':'object'}},"
                "  {'type':'custom','name':'time','input_schema':{'type':'object'}}],"
                "'tool_choice':{'type':'any','disable_parallel_tool_use':true}}"),
        "{'model':'claude-x','max_completion_tokens':1024,'temperature':0.2,'top_p':1,"
        "'stop':['END'],'stream':true,'stream_options':{'include_usage':true},'user':'u-9',"
        "'messages':["
        "{'role':'system','content':'Be brief.\\n\\nUse French.'},"
        "{'role':'user','content':[{'type':'text','text':'What is this?'},"
        "  {'type':'image_url','image_url':{'url':'data:image/png;base64,iVBORw0K'}},"
        "  {'type':'image_url','image_url':{'url':'https://example.com/c.jpg'}}]},"
        "{'role':'assistant','content':'Checking.','tool_calls':["
        "  {'id':'toolu_1','type':'function','function':{'name':'weather',"
        "   'arguments':'{\\\"city\\\":\\\"Paris\\\"}'}},"
        "  {'id':'toolu_2','type':'function','function':{'name':'time','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'toolu_1','content':'18C'},"
        "{'role':'tool','tool_call_id':'toolu_2','content':[{'type':'text','text':'noon'}]},"
        "{'role':'user','content':[{'type':'text','text':'Thanks'}]},"
        "{'role':'assistant','content':'Bye'}],"
        "'tools':[{'type':'function','function':{'name':'weather','description':'W',"
        "  'parameters':{'type':'object'}}},"
        "  {'type':'function','function':{'name':'time','parameters':{'type':'object'}}}],"
        "'tool_choice':'required','parallel_tool_calls':false}");

    /* the smallest request; tool_choice mappings */
    expect_json(a2o_req("{'model':'m','max_tokens':1,'messages':[{'role':'user','content':'hi'}],"
                        "'system':'','stream':false,'metadata':{}}"),
                "{'model':'m','max_completion_tokens':1,'stream':false,"
                "'messages':[{'role':'user','content':'hi'}]}");
    static const char *const choices[][2] = {
        {"{'type':'auto'}", "'auto'"},
        {"{'type':'none','disable_parallel_tool_use':true}", "'none'"},
        {"{'type':'tool','name':'f'}", "{'type':'function','function':{'name':'f'}}"},
    };
    for (size_t i = 0; i < N(choices); i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{'model':'m','max_tokens':5,'messages':[{'role':'user','content':'hi'}],"
                 "'tools':[{'name':'f','input_schema':{}}],'tool_choice':%s}",
                 choices[i][0]);
        json_t *got = a2o_req(body);
        expect_json(json_incref(json_object_get(got, "tool_choice")), choices[i][1]);
        assert_null(json_object_get(got, "parallel_tool_calls"));
        json_decref(got);
    }
}

static void test_req_a2o_errors(void **state)
{
    (void)state;
#define OK_HEAD "{'model':'m','max_tokens':5,"
#define MSG "'messages':[{'role':'user','content':'hi'}]"
    static const char *const cases[][2] = {
        {"[]", "Input should be a valid dictionary"},
        {"{'max_tokens':5," MSG "}", "model: Field required"},
        {"{'model':5,'max_tokens':5," MSG "}", "model: Input should be a valid string"},
        {"{'model':'m'," MSG "}", "max_tokens: Field required"},
        {"{'model':'m','max_tokens':'5'," MSG "}", "max_tokens: Input should be a valid integer"},
        {"{'model':'m','max_tokens':1.5," MSG "}", "max_tokens: Input should be a valid integer"},
        {"{'model':'m','max_tokens':0," MSG "}",
         "max_tokens: Input should be greater than or equal to 1"},
        {"{'model':'m','max_tokens':5}", "messages: Field required"},
        {OK_HEAD "'messages':{}}", "messages: Input should be a valid list"},
        {OK_HEAD "'messages':[]}", "messages: at least one message is required"},
        {OK_HEAD "'messages':['hi']}", "messages.0: Input should be a valid dictionary"},
        {OK_HEAD "'messages':[{'content':'hi'}]}", "messages.0.role: Field required"},
        {OK_HEAD "'messages':[{'role':'user','content':'hi'},{'role':'system','content':'x'}]}",
         "messages.1.role: Input should be 'user' or 'assistant'"},
        {OK_HEAD "'messages':[{'role':'user'}]}", "messages.0.content: Field required"},
        {OK_HEAD "'messages':[{'role':'user','content':7}]}",
         "messages.0.content: Input should be a valid list"},
        {OK_HEAD "'messages':[{'role':'user','content':[{}]}]}",
         "messages.0.content.0.type: Field required"},
        {OK_HEAD "'messages':[{'role':'user','content':[{'type':'text'}]}]}",
         "messages.0.content.0.text: Field required"},
        {OK_HEAD "'messages':[{'role':'user','content':[{'type':'text','text':1}]}]}",
         "messages.0.content.0.text: Input should be a valid string"},
        {OK_HEAD "'messages':[{'role':'user','content':[{'type':'document'}]}]}",
         "messages.0.content.0.type: Input tag 'document' found using 'type' does not match any "
         "of the expected tags: 'text', 'image', 'tool_use', 'tool_result', 'thinking', "
         "'redacted_thinking'"},
        {OK_HEAD "'messages':[{'role':'user','content':[{'type':'" E20 "'}]}]}",
         "messages.0.content.0.type: Input tag '" E15 "' found using 'type' does not match any "
         "of the expected tags: 'text', 'image', 'tool_use', 'tool_result', 'thinking', "
         "'redacted_thinking'"},
        {OK_HEAD "'messages':[{'role':'user','content':[{'type':'image'}]}]}",
         "messages.0.content.0.source: Field required"},
        {OK_HEAD "'messages':[{'role':'user','content':[{'type':'image','source':{'type':'base64',"
                 "'media_type':'image/tiff','data':'x'}}]}]}",
         "messages.0.content.0.source.media_type: Input should be 'image/jpeg', 'image/png', "
         "'image/gif' or 'image/webp'"},
        {OK_HEAD "'messages':[{'role':'user','content':[{'type':'image','source':{'type':'base64',"
                 "'media_type':'image/png'}}]}]}",
         "messages.0.content.0.source.data: Field required"},
        {OK_HEAD "'messages':[{'role':'user','content':[{'type':'image',"
                 "'source':{'type':'file'}}]}]}",
         "messages.0.content.0.source.type: Input tag 'file' found using 'type' does not match "
         "any of the expected tags: 'base64', 'url'"},
        {OK_HEAD "'messages':[{'role':'assistant','content':[{'type':'tool_use','id':'t',"
                 "'name':'f'}]}]}",
         "messages.0.content.0.input: Field required"},
        {OK_HEAD "'messages':[{'role':'assistant','content':[{'type':'tool_use','id':'t',"
                 "'name':'f','input':[]}]}]}",
         "messages.0.content.0.input: Input should be a valid dictionary"},
        {OK_HEAD "'messages':[{'role':'assistant','content':[{'type':'tool_use','name':'f',"
                 "'input':{}}]}]}",
         "messages.0.content.0.id: Field required"},
        {OK_HEAD "'messages':[{'role':'user','content':[{'type':'tool_use','id':'t','name':'f',"
                 "'input':{}}]}]}",
         "messages.0.content.0: tool_use blocks are only allowed in assistant messages"},
        {OK_HEAD "'messages':[{'role':'assistant','content':[{'type':'tool_result',"
                 "'tool_use_id':'t'}]}]}",
         "messages.0.content.0: tool_result blocks are only allowed in user messages"},
        {OK_HEAD "'messages':[{'role':'user','content':[{'type':'tool_result'}]}]}",
         "messages.0.content.0.tool_use_id: Field required"},
        {OK_HEAD "'messages':[{'role':'user','content':[{'type':'tool_result','tool_use_id':'t',"
                 "'content':[{'type':'image','source':{}}]}]}]}",
         "messages.0.content.0.content.0.type: only text blocks are supported in tool_result "
         "content here"},
        {OK_HEAD MSG ",'system':5}",
         "system: Input should be a valid string or a list of text blocks"},
        {OK_HEAD MSG ",'system':[{'type':'image'}]}",
         "system.0.type: Input tag 'image' found using 'type' does not match any of the expected "
         "tags: 'text'"},
        {OK_HEAD MSG ",'system':[{'type':'text'}]}", "system.0.text: Field required"},
        {OK_HEAD MSG ",'temperature':'0.5'}", "temperature: Input should be a valid number"},
        {OK_HEAD MSG ",'temperature':1.5}", "temperature: Input should be less than or equal to 1"},
        {OK_HEAD MSG ",'top_p':-0.1}", "top_p: Input should be greater than or equal to 0"},
        {OK_HEAD MSG ",'stop_sequences':'END'}", "stop_sequences: Input should be a valid list"},
        {OK_HEAD MSG ",'stop_sequences':['a',2]}",
         "stop_sequences.1: Input should be a valid string"},
        {OK_HEAD MSG ",'stream':'yes'}", "stream: Input should be a valid boolean"},
        {OK_HEAD MSG ",'metadata':[]}", "metadata: Input should be a valid dictionary"},
        {OK_HEAD MSG ",'metadata':{'user_id':5}}",
         "metadata.user_id: Input should be a valid string"},
        {OK_HEAD MSG ",'tools':{}}", "tools: Input should be a valid list"},
        {OK_HEAD MSG ",'tools':[{'input_schema':{}}]}", "tools.0.name: Field required"},
        {OK_HEAD MSG ",'tools':[{'name':'f'}]}", "tools.0.input_schema: Field required"},
        {OK_HEAD MSG ",'tools':[{'name':'f','input_schema':'x'}]}",
         "tools.0.input_schema: Input should be a valid dictionary"},
        {OK_HEAD MSG ",'tools':[{'type':'web_search_20250305','name':'web_search'}]}",
         "tools.0.type: tool type 'web_search_20250305' is not supported here"},
        {OK_HEAD MSG ",'tool_choice':'auto'}", "tool_choice: Input should be a valid dictionary"},
        {OK_HEAD MSG ",'tool_choice':{'type':'sometimes'}}",
         "tool_choice.type: Input tag 'sometimes' found using 'type' does not match any of the "
         "expected tags: 'auto', 'any', 'tool', 'none'"},
        {OK_HEAD MSG ",'tool_choice':{'type':'tool'}}", "tool_choice.name: Field required"},
        {OK_HEAD MSG ",'tool_choice':{'type':'auto','disable_parallel_tool_use':1}}",
         "tool_choice.disable_parallel_tool_use: Input should be a valid boolean"},
    };
    for (size_t i = 0; i < N(cases); i++)
        a2o_req_err(cases[i][0], cases[i][1]);
}

/* ---------- round trip: OpenAI -> Anthropic -> OpenAI ---------- */

static void test_round_trip(void **state)
{
    (void)state;
    /* a request already in the shape the way back produces (one system message first,
     * compact arguments, tool results followed by an assistant message) comes back
     * equal, apart from the key the cap is sent under */
    static const char *const req =
        "{'model':'claude-x','max_completion_tokens':500,'temperature':0.5,'stream':true,"
        "'stream_options':{'include_usage':true},'user':'u','stop':['X'],"
        "'messages':[{'role':'system','content':'Be brief.'},"
        "{'role':'user','content':[{'type':'text','text':'Look:'},"
        "  {'type':'image_url','image_url':{'url':'data:image/jpeg;base64,/9j/4AAQ'}},"
        "  {'type':'image_url','image_url':{'url':'http://example.com/a.png'}}]},"
        "{'role':'assistant','content':'On it.','tool_calls':[{'id':'call_1','type':'function',"
        "  'function':{'name':'f','arguments':'{\\\"a\\\":[1,{\\\"b\\\":null}]}'}},"
        "  {'id':'call_2','type':'function','function':{'name':'g','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'call_1','content':'one'},"
        "{'role':'tool','tool_call_id':'call_2','content':[{'type':'text','text':'two'}]},"
        "{'role':'assistant','content':'Done.'},"
        "{'role':'user','content':'Thanks'}],"
        "'tools':[{'type':'function','function':{'name':'f','description':'F',"
        "  'parameters':{'type':'object','properties':{'a':{'type':'array'}}}}},"
        "  {'type':'function','function':{'name':'g','parameters':{'type':'object'}}}],"
        "'tool_choice':{'type':'function','function':{'name':'f'}},'parallel_tool_calls':false}";
    json_t *openai = jq(req), *anth = NULL, *back = NULL;
    char err[256] = "";
    wa_error e = {0};
    assert_int_equal(wa_req_openai_to_anthropic(openai, "claude-x", &anth, err, sizeof(err)), 0);
    assert_int_equal(wa_req_anthropic_to_openai(anth, &back, &e), 0);
    if (!json_equal(openai, back)) {
        char *g = json_dumps(back, JSON_COMPACT);
        print_error("round trip differs: %s\n", g);
        free(g);
        fail();
    }
    json_decref(openai);
    json_decref(anth);
    json_decref(back);
}

/* ---------- answers, OpenAI -> Anthropic ---------- */

static json_t *o2a_resp(const char *body, wa_usage *u)
{
    char *b = q(body);
    json_t *out = NULL;
    char err[256] = "";
    if (wa_resp_openai_to_anthropic(b, strlen(b), &out, u, err, sizeof(err)))
        fail_msg("refused: %s", err);
    free(b);
    return out;
}

static void test_resp_o2a(void **state)
{
    (void)state;
    wa_usage u = {0};
    expect_json(o2a_resp("{'id':'chatcmpl-abc','object':'chat.completion','created':1,"
                         "'model':'gpt-4o','choices':[{'index':0,'message':{'role':'assistant',"
                         "'content':'Sure.','tool_calls':[{'id':'call_1','type':'function',"
                         "'function':{'name':'f','arguments':'{\\\"x\\\":1}'}},"
                         "{'id':'call_2','type':'function','function':{'name':'g',"
                         "'arguments':''}}]},'finish_reason':'tool_calls'}],"
                         "'usage':{'prompt_tokens':1200,'completion_tokens':30,"
                         "'total_tokens':1230,'prompt_tokens_details':{'cached_tokens':1000}}}",
                         &u),
                "{'id':'msg_abc','type':'message','role':'assistant','model':'gpt-4o',"
                "'content':[{'type':'text','text':'Sure.'},"
                "{'type':'tool_use','id':'call_1','name':'f','input':{'x':1}},"
                "{'type':'tool_use','id':'call_2','name':'g','input':{}}],"
                "'stop_reason':'tool_use','stop_sequence':null,"
                "'usage':{'input_tokens':200,'cache_creation_input_tokens':0,"
                "'cache_read_input_tokens':1000,'output_tokens':30}}");
    assert_int_equal(u.input_tokens, 200);
    assert_int_equal(u.cache_read_tokens, 1000);
    assert_int_equal(u.output_tokens, 30);
    assert_int_equal(wa_usage_prompt_tokens(&u), 1200);

    static const char *const stops[][2] = {
        {"'stop'", "end_turn"},           {"'length'", "max_tokens"},
        {"'tool_calls'", "tool_use"},     {"'function_call'", "tool_use"},
        {"'content_filter'", "refusal"},  {"null", "end_turn"},
    };
    for (size_t i = 0; i < N(stops); i++) {
        char body[256], want[512];
        snprintf(body, sizeof(body),
                 "{'id':'x1','model':'m','choices':[{'message':{'content':''},"
                 "'finish_reason':%s}]}",
                 stops[i][0]);
        snprintf(want, sizeof(want),
                 "{'id':'msg_x1','type':'message','role':'assistant','model':'m','content':[],"
                 "'stop_reason':'%s','stop_sequence':null,'usage':{'input_tokens':0,"
                 "'cache_creation_input_tokens':0,'cache_read_input_tokens':0,'output_tokens':0}}",
                 stops[i][1]);
        expect_json(o2a_resp(body, NULL), want);
    }

    static const char *const errs[][2] = {
        {"{}", "choices[0].message: missing or not an object"},
        {"{'choices':[{'message':{'content':5}}]}",
         "choices[0].message.content: not a string, an array or null"},
        {"{'choices':[{'message':{'tool_calls':[{'id':'c','function':{'name':'f',"
         "'arguments':'nope'}}]}}]}",
         "choices[0].message.tool_calls[0].function.arguments: not a JSON object"},
        {"{'choices':[{'message':{'tool_calls':[{'function':{'name':'f'}}]}}]}",
         "choices[0].message.tool_calls[0]: id and function.name must be strings"},
    };
    for (size_t i = 0; i < N(errs); i++) {
        char *b = q(errs[i][0]);
        json_t *out = (json_t *)1;
        char err[256] = "";
        assert_int_equal(wa_resp_openai_to_anthropic(b, strlen(b), &out, NULL, err, sizeof(err)),
                         -1);
        assert_null(out);
        assert_string_equal(err, errs[i][1]);
        free(b);
    }
}

static void test_error_o2a(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *type;
    } map[] = {
        {400, "invalid_request_error"}, {401, "authentication_error"}, {403, "permission_error"},
        {404, "not_found_error"},       {413, "request_too_large"},    {429, "rate_limit_error"},
        {500, "api_error"},             {502, "api_error"},            {503, "overloaded_error"},
        {504, "api_error"},             {529, "overloaded_error"},     {0, "api_error"},
        {422, "invalid_request_error"},
    };
    for (size_t i = 0; i < N(map); i++) {
        assert_string_equal(wa_error_type_for_status(map[i].status), map[i].type);
        static const char body[] = "{\"error\":{\"message\":\"m\",\"type\":\"x\",\"code\":null}}";
        json_t *out = NULL;
        char want[160];
        assert_int_equal(wa_error_openai_to_anthropic(body, strlen(body), map[i].status, &out), 0);
        snprintf(want, sizeof(want), "{'type':'error','error':{'type':'%s','message':'m'}}",
                 map[i].type);
        expect_json(out, want);
    }
    json_t *out = NULL;
    assert_int_equal(wa_error_openai_to_anthropic("oops", 4, 502, &out), 0);
    expect_json(out, "{'type':'error','error':{'type':'api_error',"
                     "'message':'upstream answered HTTP 502'}}");
    assert_int_equal(wa_error_openai_to_anthropic("{\"error\":\"plain\"}", 17, 429, &out), 0);
    expect_json(out, "{'type':'error','error':{'type':'rate_limit_error','message':'plain'}}");
    wa_error e = {404, "not_found_error", "model: x"};
    expect_json(wa_error_body(&e),
                "{'type':'error','error':{'type':'not_found_error','message':'model: x'}}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_req_o2a_full),
        cmocka_unit_test(test_req_o2a_defaults),
        cmocka_unit_test(test_req_o2a_errors),
        cmocka_unit_test(test_resp_a2o),
        cmocka_unit_test(test_resp_a2o_errors),
        cmocka_unit_test(test_error_a2o),
        cmocka_unit_test(test_req_a2o_full),
        cmocka_unit_test(test_req_a2o_errors),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_resp_o2a),
        cmocka_unit_test(test_error_o2a),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
