/*
 * libFuzzer target: the router config parser (experiments/config.c,
 * exp_config_parse and exp_config_parse_opts) and the experiment definition
 * parser (experiments/experiment.c, exp_experiment_parse) on the same bytes.
 * Config files are operator input; the cover is cheap.
 *
 * Invariants beyond "no crash, no leak": a refusal leaves *out NULL and a
 * non-empty error; an accepted config has every index (provider, default
 * model, routing cell) in range, finds each model by its name, and a holdout
 * in 0..10000 basis points; an accepted experiment has a plan ending in a full
 * step, and its canonical text parses back to itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/config.h"
#include "experiments/experiment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_config(const exp_config *c)
{
    if (c->nproviders < 1 || c->nmodels < 1 || c->default_model < 0 ||
        c->default_model >= c->nmodels || c->holdout_bp < 0 || c->holdout_bp > 10000 ||
        c->napi_keys < 0)
        abort();
    for (int i = 0; i < c->nproviders; i++)
        if (!c->providers[i].name || !c->providers[i].base_url)
            abort();
    for (int i = 0; i < c->nmodels; i++) {
        const exp_model *m = &c->models[i];
        if (!m->name || m->provider < 0 || m->provider >= c->nproviders ||
            exp_config_find_model(c, m->name) != i)
            abort();
    }
    for (int t = 0; t < WIRE_NTASKS; t++)
        for (int m = 0; m < EXP_NMODES; m++)
            if (c->routing[t][m] < 0 || c->routing[t][m] >= c->nmodels)
                abort();
    for (int i = 0; i < c->napi_keys; i++)
        if (!c->api_keys[i].key == !c->api_keys[i].key_env)
            abort(); /* exactly one of key and key_env */
    if (c->feedback.nprojects < 0 || (c->feedback.nprojects && !c->feedback.enabled))
        abort();
    for (int i = 0; i < c->feedback.nprojects; i++) {
        int n = c->feedback.projects[i].nsecrets;
        if (n < 1 || n > EXP_FEEDBACK_MAX_SECRETS)
            abort();
    }
}

static void check_refusal(int rc, const void *out, const char *err)
{
    if (rc != -1 || out || !err[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    char err[2048];

    exp_config *cfg = NULL;
    int rc = exp_config_parse(json, size, &cfg, err, sizeof(err));
    if (rc == 0)
        check_config(cfg);
    else
        check_refusal(rc, cfg, err);
    exp_config_free(cfg);

    cfg = NULL;
    rc = exp_config_parse_opts(json, size, EXP_CONFIG_NO_API_KEYS, &cfg, err, sizeof(err));
    if (rc == 0)
        check_config(cfg);
    else
        check_refusal(rc, cfg, err);
    exp_config_free(cfg);

    exp_experiment *x = NULL;
    rc = exp_experiment_parse(json, size, &x, err, sizeof(err));
    if (rc != 0) {
        check_refusal(rc, x, err);
        return 0;
    }
    check_config(x->config);
    if (x->nsteps < 1 || exp_experiment_step(x, x->nsteps - 1, NULL) != 10000 ||
        exp_experiment_step(x, x->nsteps, NULL) != -1 || !x->canonical)
        abort();
    for (int i = 0; i < x->nsteps; i++)
        if (x->steps[i].routed_bp < 0 || x->steps[i].routed_bp > 10000)
            abort();

    exp_experiment *y = NULL;
    if (exp_experiment_parse(x->canonical, strlen(x->canonical), &y, err, sizeof(err)) != 0 ||
        strcmp(x->canonical, y->canonical) || y->nsteps != x->nsteps ||
        y->nguardrails != x->nguardrails)
        abort();
    exp_experiment_free(y);
    exp_experiment_free(x);
    return 0;
}
