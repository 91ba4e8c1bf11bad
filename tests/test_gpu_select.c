/*
 * test_gpu_select.c — choosing an engine, on every machine (not labelled gpu): ENG_KIND_CUDA
 * gives the CUDA engine where the build has it and a device answers, else MD_ENODEV with a
 * message that says why and names the cpu engine; ENG_KIND_AUTO gives CUDA or, failing that,
 * the CPU engine; bad thread counts are refused either way.
 */
#include "test_util.h"

#include <string.h>

#include "gpu/engine_int.h"
#ifdef MORPHD_HAVE_CUDA
#include "gpu/cuda/engine_cuda.h"
#endif

int main(void)
{
    md_error err;
    md_error_clear(&err);
    int devices = 0;
#ifdef MORPHD_HAVE_CUDA
    md_error probe;
    md_error_clear(&probe);
    devices = eng_cuda_device_count(&probe);
    fprintf(stderr, "CUDA engine built in; %d device(s)%s%s\n", devices, devices ? "" : ": ",
            devices ? "" : probe.msg);
    /* The probe remembers its answer. */
    CHECK_INT(devices, eng_cuda_device_count(NULL));
#else
    fprintf(stderr, "built without the CUDA engine\n");
#endif

    eng *e = NULL;
    eng_config cuda = {ENG_KIND_CUDA, 0, 0};
    int rc = eng_new(&cuda, &e, &err);
    if (devices > 0) {
        CHECK_OK(rc, &err);
        CHECK(e != NULL && strcmp(eng_name(e), "cuda") == 0);
    } else {
        CHECK_INT(MD_ENODEV, rc);
        CHECK(e == NULL);
        CHECK_MSG(&err, "use the cpu engine");
#ifdef MORPHD_HAVE_CUDA
        CHECK_MSG(&err, "CUDA device");
#else
        CHECK_MSG(&err, "this build has no CUDA engine");
#endif
    }
    eng_free(e);
    e = NULL;

    eng_config autok = {ENG_KIND_AUTO, 0, 0};
    CHECK_OK(eng_new(&autok, &e, &err), &err);
    CHECK(e != NULL && strcmp(eng_name(e), devices > 0 ? "cuda" : "cpu") == 0);
    eng_free(e);
    e = NULL;

    eng_config neg = {devices > 0 ? ENG_KIND_CUDA : ENG_KIND_CPU, -1, 0};
    CHECK_INT(MD_EINVAL, eng_new(&neg, &e, &err));
    CHECK_MSG(&err, "threads -1");
    CHECK(e == NULL);
    return test_done();
}
