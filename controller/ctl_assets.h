/*
 * ctl_assets: the console's files (controller/console/), compiled into the binary by
 * CMake (controller/console/embed.cmake writes ctl_assets.c into the build tree), so
 * the controller serves its page with no files beside it and nothing from the network.
 */
#ifndef SY_CTL_ASSETS_H
#define SY_CTL_ASSETS_H

#include <stddef.h>

typedef struct ctl_asset {
    const char *name;          /* file name: "index.html", "app.js", ... */
    const char *content_type;
    const unsigned char *data; /* NUL-terminated, len bytes before the NUL */
    size_t len;
} ctl_asset;

extern const ctl_asset ctl_assets[];
extern const int ctl_nassets;

#endif
