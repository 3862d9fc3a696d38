/* Capturing what a unit under test writes to stderr (fd 2, so write(2) is caught
 * as well as stdio): begin_capture(), run it, then end_capture() returns the text. */
#ifndef SY_TEST_CAPTURE_H
#define SY_TEST_CAPTURE_H

#include <stdio.h>
#include <unistd.h>

static char capture_out[8192];
static int capture_saved_fd = -1;
static FILE *capture_file;

static void begin_capture(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    assert_non_null(capture_file);
    capture_saved_fd = dup(STDERR_FILENO);
    assert_true(capture_saved_fd >= 0);
    assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

static const char *end_capture(void)
{
    fflush(stderr);
    assert_true(dup2(capture_saved_fd, STDERR_FILENO) >= 0);
    close(capture_saved_fd);
    rewind(capture_file);
    size_t n = fread(capture_out, 1, sizeof(capture_out) - 1, capture_file);
    fclose(capture_file);
    capture_out[n] = '\0';
    return capture_out;
}

#endif
