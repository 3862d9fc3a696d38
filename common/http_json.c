#include "common/http_json.h"

#include <stdlib.h>
#include <string.h>

#include "common/httpd.h"

void sy_http_reply_json(sy_http_req *req, int status, json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!s) {
        sy_http_reply_error(req, 500, "api_error", NULL, NULL, "out of memory");
        return;
    }
    sy_http_reply(req, status, "application/json", s, strlen(s));
    free(s);
}
