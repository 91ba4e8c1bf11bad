/*
 * fuzz_spec.c — libFuzzer target for the spec JSON reader (jobs/spec_json.c), which reads the
 * `spec` part of every POST /jobs. Each input is parsed as JSON (as submit.c does: duplicates
 * rejected) and, when it is an object, applied to a default spec with the default limits. A
 * refusal must carry a message. An accepted spec must survive the round trip the api and the worker
 * make: job_spec_to_json, dumped and loaded again, must be accepted by job_spec_from_json and
 * give the same normalised JSON (spec.h promises from_json(to_json(s)) == s). Everything is
 * freed, so LeakSanitizer flags a leak on any error path.
 *
 * Seeds: tests/fuzz/corpus/fuzz_spec (hand-written specs of docs/server.md, "Spec").
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "jobs/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *round_trip(const job_spec *spec)
{
    json_t *norm = job_spec_to_json(spec);
    if (norm == NULL)
        __builtin_trap();
    char *text = json_dumps(norm, JSON_COMPACT);
    json_decref(norm);
    if (text == NULL)
        __builtin_trap();
    json_error_t jerr;
    json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (back == NULL)
        __builtin_trap(); /* the normalised spec must be valid JSON */
    return back;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The default limits: the defaults a normalised spec fills in must pass them (a 512x512
     * frame would not pass a tighter max_image_side), and the reader allocates nothing that
     * grows with them but the weights. */
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);

    json_error_t jerr;
    json_t *obj = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL || !json_is_object(obj)) {
        json_decref(obj);
        return 0;
    }
    job_spec spec;
    job_spec_init(&spec);
    if (job_spec_from_json(&spec, obj, &lim, &err) != 0) {
        if (err.msg[0] == '\0')
            __builtin_trap();
        job_spec_free(&spec);
        json_decref(obj);
        return 0;
    }
    json_t *first = round_trip(&spec);
    job_spec again;
    job_spec_init(&again);
    md_error_clear(&err);
    if (job_spec_from_json(&again, first, &lim, &err) != 0)
        __builtin_trap(); /* a normalised spec must be accepted as it is */
    json_t *second = round_trip(&again);
    if (!json_equal(first, second))
        __builtin_trap(); /* and read back to the same spec */
    json_decref(second);
    json_decref(first);
    job_spec_free(&again);
    job_spec_free(&spec);
    json_decref(obj);
    return 0;
}
