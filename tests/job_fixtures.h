/*
 * job_fixtures.h — a job's pieces for the tests of jobs/ (test_render_job.c, test_pipeline.c):
 * a cube mesh with a colour per side, offset from the origin, and a spec read from JSON. No
 * data files. Header-only (static inline), because each test is its own executable linked
 * with test_util.c alone.
 */
#ifndef JOB_FIXTURES_H
#define JOB_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/job.h"

/* Centre (0.3, 0.2, -0.1), half-size 1. Sides: +Z red, +X green, -Z blue, -X yellow, +Y
 * magenta, -Y cyan. */
static const char jf_cube_obj[] =
    "v -0.7 -0.8 -1.1\nv 1.3 -0.8 -1.1\nv 1.3 1.2 -1.1\nv -0.7 1.2 -1.1\n"
    "v -0.7 -0.8 0.9\nv 1.3 -0.8 0.9\nv 1.3 1.2 0.9\nv -0.7 1.2 0.9\n"
    "usemtl front\nf 5 6 7 8\nusemtl right\nf 6 2 3 7\nusemtl back\nf 2 1 4 3\n"
    "usemtl left\nf 1 5 8 4\nusemtl top\nf 8 7 3 4\nusemtl bottom\nf 1 2 6 5\n";
static const char jf_cube_mtl[] = "newmtl front\nKd 0.9 0.1 0.1\nnewmtl right\nKd 0.1 0.9 0.1\n"
                                  "newmtl back\nKd 0.1 0.1 0.9\nnewmtl left\nKd 0.9 0.9 0.1\n"
                                  "newmtl top\nKd 0.9 0.1 0.9\nnewmtl bottom\nKd 0.1 0.9 0.9\n";

/* The cube; exits the test when it cannot be parsed. */
static inline mesh *jf_cube(const md_limits *lim)
{
    mesh *m = NULL;
    md_error err;
    if (mesh_parse_obj(jf_cube_obj, strlen(jf_cube_obj), lim, &m, &err) != 0 ||
        mesh_parse_mtl(m, jf_cube_mtl, strlen(jf_cube_mtl), &err) != 0) {
        fprintf(stderr, "cube: %s\n", err.msg);
        exit(1);
    }
    return m;
}

/* A spec from the api's JSON, over job_spec_init's defaults; exits the test on an error. */
static inline void jf_read_spec(job_spec *s, const char *text, const md_limits *lim)
{
    job_spec_init(s);
    json_error_t jerr;
    json_t *obj = json_loads(text, 0, &jerr);
    md_error err;
    if (obj == NULL || job_spec_from_json(s, obj, lim, &err) != 0) {
        fprintf(stderr, "spec %s: %s\n", text, obj ? err.msg : jerr.text);
        exit(1);
    }
    json_decref(obj);
}

#endif
