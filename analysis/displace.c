/*
 * displace.c — shape displacement of a morph's target B against its source A: optional
 * alignment of B onto A (rigid: Kabsch; similarity: Umeyama), then per vertex the normal,
 * tangential and total components of d = B' - A against A's vertex normals.
 *
 * Called by the job runner (any thread; pure apart from its allocations). The result owns
 * every array it returns.
 *
 * Alignment: the optimal rotation comes from Horn's quaternion form of the Kabsch problem — the
 * eigenvector of the largest eigenvalue of a symmetric 4x4 matrix built from the cross
 * covariance, found by cyclic Jacobi sweeps. It is always a proper rotation (no reflection
 * fix-up needed) and the 4x4 Jacobi is short and robust, which a hand-written 3x3 SVD is not.
 * Umeyama's rotation is the same; the scale is then sum(a'_i . R b'_i) / sum(|b'_i|^2) with
 * a', b' centred, and the translation maps B's centroid onto A's.
 *
 * Normals of A come from the engine's own morph-stage helper (eng_vertex_normals), so the
 * normal/tangential split uses exactly the normals the frames are shaded with.
 */
#include "analysis/analysis.h"
#include "gpu/engine.h"

#include <math.h>
#include <string.h>

struct ana_displacement_result {
    uint32_t vertex_count;
    float *normal, *tangential, *total; /* 1 per vertex */
    float *vec, *pos_a, *pos_b, *nrm_a; /* 3 per vertex */
    uint32_t *file_vertex;              /* A's file numbers (mesh_file_vertices), or NULL */
    ana_alignment alignment;
};

/* ---- Names ---- */

const char *ana_align_name(ana_align align)
{
    switch (align) {
    case ANA_ALIGN_RIGID:
        return "rigid";
    case ANA_ALIGN_SIMILARITY:
        return "similarity";
    case ANA_ALIGN_NONE:
    default:
        return "none";
    }
}

int ana_align_parse(const char *name, ana_align *out, md_error *err)
{
    static const ana_align all[] = {ANA_ALIGN_NONE, ANA_ALIGN_RIGID, ANA_ALIGN_SIMILARITY};
    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(name, ana_align_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return md_fail(err, MD_EINVAL, "alignment must be none, rigid or similarity, got '%s'",
                   name ? name : "(null)");
}

/* ---- Alignment ---- */

/* Eigenvector of the largest eigenvalue of the symmetric 4x4 m (destroyed), by cyclic Jacobi. */
static void jacobi4_top(double m[4][4], double vec[4])
{
    double v[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
    for (int sweep = 0; sweep < 64; sweep++) {
        double off = 0.0, diag = 0.0;
        for (int p = 0; p < 4; p++) {
            diag += m[p][p] * m[p][p];
            for (int q = p + 1; q < 4; q++)
                off += m[p][q] * m[p][q];
        }
        if (off <= 1e-30 * diag || off == 0.0)
            break;
        for (int p = 0; p < 4; p++) {
            for (int q = p + 1; q < 4; q++) {
                if (m[p][q] == 0.0)
                    continue;
                double theta = (m[q][q] - m[p][p]) / (2.0 * m[p][q]);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int k = 0; k < 4; k++) { /* columns p, q */
                    double mkp = m[k][p], mkq = m[k][q];
                    m[k][p] = c * mkp - s * mkq;
                    m[k][q] = s * mkp + c * mkq;
                }
                for (int k = 0; k < 4; k++) { /* rows p, q */
                    double mpk = m[p][k], mqk = m[q][k];
                    m[p][k] = c * mpk - s * mqk;
                    m[q][k] = s * mpk + c * mqk;
                }
                for (int k = 0; k < 4; k++) {
                    double vkp = v[k][p], vkq = v[k][q];
                    v[k][p] = c * vkp - s * vkq;
                    v[k][q] = s * vkp + c * vkq;
                }
            }
        }
    }
    int best = 0;
    for (int p = 1; p < 4; p++)
        if (m[p][p] > m[best][best])
            best = p;
    for (int k = 0; k < 4; k++)
        vec[k] = v[k][best];
}

static double rms_distance(const float *a, const double *b, uint32_t nv)
{
    double sum = 0.0;
    for (size_t i = 0; i < (size_t)nv * 3; i++) {
        double d = b[i] - (double)a[i];
        sum += d * d;
    }
    return nv ? sqrt(sum / nv) : 0.0;
}

/* Fills al and writes B' (double, 3 per vertex) into out. */
static void align_b(const float *a, const float *b, uint32_t nv, ana_align align, ana_alignment *al,
                    double *out)
{
    memset(al, 0, sizeof *al);
    al->align = align;
    al->rotation[0] = al->rotation[4] = al->rotation[8] = 1.0;
    al->scale = 1.0;
    for (size_t i = 0; i < (size_t)nv * 3; i++)
        out[i] = b[i];
    al->rms_before = rms_distance(a, out, nv);
    if (align == ANA_ALIGN_NONE || nv == 0) {
        al->rms_after = al->rms_before;
        return;
    }

    double ca[3] = {0, 0, 0}, cb[3] = {0, 0, 0};
    for (uint32_t i = 0; i < nv; i++)
        for (int k = 0; k < 3; k++) {
            ca[k] += a[(size_t)i * 3 + k];
            cb[k] += b[(size_t)i * 3 + k];
        }
    for (int k = 0; k < 3; k++) {
        ca[k] /= nv;
        cb[k] /= nv;
    }
    /* S[j][k] = sum b'_j a'_k: rotating b onto a. */
    double s[3][3] = {{0}}, bb = 0.0;
    for (uint32_t i = 0; i < nv; i++) {
        double pa[3], pb[3];
        for (int k = 0; k < 3; k++) {
            pa[k] = a[(size_t)i * 3 + k] - ca[k];
            pb[k] = b[(size_t)i * 3 + k] - cb[k];
        }
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++)
                s[j][k] += pb[j] * pa[k];
        bb += pb[0] * pb[0] + pb[1] * pb[1] + pb[2] * pb[2];
    }
    /* Horn (1987): N's top eigenvector is the unit quaternion of the rotation. */
    double sxx = s[0][0], sxy = s[0][1], sxz = s[0][2];
    double syx = s[1][0], syy = s[1][1], syz = s[1][2];
    double szx = s[2][0], szy = s[2][1], szz = s[2][2];
    double n[4][4] = {
        {sxx + syy + szz, syz - szy, szx - sxz, sxy - syx},
        {syz - szy, sxx - syy - szz, sxy + syx, szx + sxz},
        {szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy},
        {sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz},
    };
    double q[4];
    jacobi4_top(n, q);
    double qn = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    double w = q[0] / qn, x = q[1] / qn, y = q[2] / qn, z = q[3] / qn;
    double *r = al->rotation;
    r[0] = w * w + x * x - y * y - z * z;
    r[1] = 2 * (x * y - w * z);
    r[2] = 2 * (x * z + w * y);
    r[3] = 2 * (x * y + w * z);
    r[4] = w * w - x * x + y * y - z * z;
    r[5] = 2 * (y * z - w * x);
    r[6] = 2 * (x * z - w * y);
    r[7] = 2 * (y * z + w * x);
    r[8] = w * w - x * x - y * y + z * z;

    double scale = 1.0;
    if (align == ANA_ALIGN_SIMILARITY && bb > 0.0) {
        /* sum a'_k (R b')_k = sum_jk R[k][j] S[j][k] */
        double num = 0.0;
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < 3; j++)
                num += r[k * 3 + j] * s[j][k];
        if (num > 0.0)
            scale = num / bb;
    }
    al->scale = scale;
    for (int k = 0; k < 3; k++)
        al->translation[k] =
            ca[k] - scale * (r[k * 3] * cb[0] + r[k * 3 + 1] * cb[1] + r[k * 3 + 2] * cb[2]);
    for (uint32_t i = 0; i < nv; i++) {
        const float *p = b + (size_t)i * 3;
        for (int k = 0; k < 3; k++)
            out[(size_t)i * 3 + k] =
                scale * (r[k * 3] * p[0] + r[k * 3 + 1] * p[1] + r[k * 3 + 2] * p[2]) +
                al->translation[k];
    }
    al->rms_after = rms_distance(a, out, nv);
}

/* ---- Displacement ---- */

void ana_displacement_free(ana_displacement_result *r)
{
    if (!r)
        return;
    md_free(r->normal);
    md_free(r->tangential);
    md_free(r->total);
    md_free(r->vec);
    md_free(r->pos_a);
    md_free(r->pos_b);
    md_free(r->nrm_a);
    md_free(r->file_vertex);
    md_free(r);
}

int ana_displacement(const mesh *a, const mesh *b, ana_align align, ana_displacement_result **out,
                     md_error *err)
{
    *out = NULL;
    double *aligned = NULL;
    ana_displacement_result *r = NULL;
    int rc = 0;
    if (align != ANA_ALIGN_NONE && align != ANA_ALIGN_RIGID && align != ANA_ALIGN_SIMILARITY) {
        rc = md_fail(err, MD_EINVAL, "unknown alignment %d", (int)align);
        goto done;
    }
    rc = mesh_check_topology(a, b, err);
    if (rc != 0)
        goto done;

    const uint32_t nv = mesh_vertex_count(a);
    const size_t n1 = nv ? nv : 1, n3 = n1 * 3;
    r = md_calloc(1, sizeof *r);
    aligned = md_malloc_array(n3, sizeof *aligned);
    if (!r || !aligned) {
        rc = md_fail(err, MD_ENOMEM, "out of memory for the displacement of %u vertices", nv);
        goto done;
    }
    r->vertex_count = nv;
    r->normal = md_malloc_array(n1, sizeof(float));
    r->tangential = md_malloc_array(n1, sizeof(float));
    r->total = md_malloc_array(n1, sizeof(float));
    r->vec = md_malloc_array(n3, sizeof(float));
    r->pos_a = md_malloc_array(n3, sizeof(float));
    r->pos_b = md_malloc_array(n3, sizeof(float));
    r->nrm_a = md_malloc_array(n3, sizeof(float));
    if (!r->normal || !r->tangential || !r->total || !r->vec || !r->pos_a || !r->pos_b ||
        !r->nrm_a) {
        rc = md_fail(err, MD_ENOMEM, "out of memory for the displacement of %u vertices", nv);
        goto done;
    }

    const float *pa = mesh_positions(a), *pb = mesh_positions(b);
    memcpy(r->pos_a, pa, (size_t)nv * 3 * sizeof(float));
    if (mesh_file_vertices(a) != NULL) {
        r->file_vertex = md_malloc_array(n1, sizeof(uint32_t));
        if (r->file_vertex == NULL) {
            rc = md_fail(err, MD_ENOMEM, "out of memory for %u vertex numbers", nv);
            goto done;
        }
        memcpy(r->file_vertex, mesh_file_vertices(a), (size_t)nv * sizeof(uint32_t));
    }
    eng_vertex_normals(pa, nv, mesh_triangles(a), mesh_triangle_count(a), r->nrm_a);
    align_b(pa, pb, nv, align, &r->alignment, aligned);

    for (uint32_t i = 0; i < nv; i++) {
        const size_t o = (size_t)i * 3;
        double d[3], n[3], nd = 0.0;
        for (int k = 0; k < 3; k++) {
            r->pos_b[o + k] = (float)aligned[o + k];
            d[k] = aligned[o + k] - (double)pa[o + k];
            n[k] = r->nrm_a[o + k];
            nd += d[k] * n[k];
            r->vec[o + k] = (float)d[k];
        }
        double t2 = 0.0, d2 = 0.0;
        for (int k = 0; k < 3; k++) {
            double tk = d[k] - nd * n[k];
            t2 += tk * tk;
            d2 += d[k] * d[k];
        }
        r->normal[i] = (float)nd;
        r->tangential[i] = (float)sqrt(t2);
        r->total[i] = (float)sqrt(d2);
    }
    *out = r;
    r = NULL;

done:
    md_free(aligned);
    ana_displacement_free(r);
    return rc;
}

uint32_t ana_displacement_vertex_count(const ana_displacement_result *r)
{
    return r->vertex_count;
}

uint32_t ana_displacement_vertex_id(const ana_displacement_result *r, uint32_t i)
{
    return r->file_vertex != NULL && i < r->vertex_count ? r->file_vertex[i] : i;
}

const float *ana_displacement_normal(const ana_displacement_result *r)
{
    return r->normal;
}

const float *ana_displacement_tangential(const ana_displacement_result *r)
{
    return r->tangential;
}

const float *ana_displacement_total(const ana_displacement_result *r)
{
    return r->total;
}

const float *ana_displacement_vectors(const ana_displacement_result *r)
{
    return r->vec;
}

const float *ana_displacement_positions_a(const ana_displacement_result *r)
{
    return r->pos_a;
}

const float *ana_displacement_positions_b(const ana_displacement_result *r)
{
    return r->pos_b;
}

const float *ana_displacement_normals_a(const ana_displacement_result *r)
{
    return r->nrm_a;
}

const ana_alignment *ana_displacement_alignment(const ana_displacement_result *r)
{
    return &r->alignment;
}
