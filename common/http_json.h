/*
 * http_json: a JSON reply on the HTTP server (common/httpd.h), shared by the
 * router's small endpoints and the controller's admin API.
 */
#ifndef SY_HTTP_JSON_H
#define SY_HTTP_JSON_H

#include <jansson.h>

typedef struct sy_http_req sy_http_req;

/* Reply status with obj serialised compactly as application/json; takes the
 * reference to obj (NULL, as from a failed json_pack, answers 500 "out of
 * memory", as does a failed dump). Finishes the request. */
void sy_http_reply_json(sy_http_req *req, int status, json_t *obj);

#endif
