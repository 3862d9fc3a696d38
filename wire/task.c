#include "wire/task.h"

#include <string.h>

static const char *const task_names[WIRE_NTASKS] = {"simple", "code", "reasoning", "complex"};

const char *wire_task_str(wire_task t)
{
    if (t >= 0 && t < WIRE_NTASKS)
        return task_names[t];
    return t == WIRE_TASK_NONE ? "none" : "unknown";
}

int wire_task_parse(const char *s, wire_task *out)
{
    if (!s)
        return -1;
    for (int i = 0; i < WIRE_NTASKS; i++)
        if (!strcmp(s, task_names[i])) {
            *out = (wire_task)i;
            return 0;
        }
    return -1;
}
