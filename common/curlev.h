/*
 * curlev: a libcurl multi handle driven by a libevent loop, wired as curl's
 * docs/examples/hiperfifo.c does (socket callback + timer callback +
 * curl_multi_socket_action + curl_multi_info_read). The router's upstream
 * client and the load generator both use it; each sets up its own easy handles.
 *
 * A transfer is added with a completion (sy_curlev_xfer) that lives in the
 * caller's object. When the transfer ends, its easy handle is taken out of the
 * multi handle, then the completion is called with curl's result; the easy
 * handle is the caller's again (to reuse or clean up). Completions are only
 * called from the loop, never from inside sy_curlev_add().
 *
 * The header includes <curl/curl.h>: this module is the curl glue, and only the
 * two files that drive curl include it.
 */
#ifndef SY_CURLEV_H
#define SY_CURLEV_H

#include <curl/curl.h>

struct event_base;
typedef struct sy_curlev sy_curlev;

typedef struct sy_curlev_xfer {
    void (*on_done)(CURL *easy, CURLcode result, void *arg);
    void *arg;
} sy_curlev_xfer;

/* maxconnects: CURLMOPT_MAXCONNECTS, the size of the connection cache. */
sy_curlev *sy_curlev_new(struct event_base *base, long maxconnects);
/* Cleans up the multi handle; transfers still in it are the caller's to
 * remove first (sy_curlev_remove) and clean up. */
void sy_curlev_free(sy_curlev *ev);

/* Start easy (its options set) on the loop; x must stay valid until x->on_done
 * has been called or sy_curlev_remove(). Sets the handle's CURLOPT_PRIVATE. */
CURLMcode sy_curlev_add(sy_curlev *ev, CURL *easy, sy_curlev_xfer *x)
    __attribute__((warn_unused_result));
/* Abort a transfer: out of the multi handle, no on_done. */
void sy_curlev_remove(sy_curlev *ev, CURL *easy);

#endif
