/*
 * test_render_data.c — rendering checks on the real faces in ../shared/data (skips without it):
 *   - the oracle: frame t = 0.5 of ICT A -> B equals a render of the ICT neutral face;
 *   - frames t = 0 and t = 1 equal renders of the source and the target alone;
 *   - the MediaPipe face with facepaint.png shows each paint colour where its UVs put it;
 *   - the skin textures show no cyan anywhere and black only where the texture itself is black.
 */
#include "test_util.h"

#include <math.h>
#include <string.h>

#include "gpu/kernels.h"
#include "jobs/job.h"

typedef struct frames {
    uint32_t count;
    int width, height;
    uint8_t *rgb[64];
} frames;

static int collect(void *user, const eng_frame *f)
{
    frames *fr = user;
    size_t n = (size_t)f->width * (size_t)f->height * 3;
    fr->rgb[f->frame] = md_malloc(n);
    memcpy(fr->rgb[f->frame], f->rgb, n);
    fr->width = f->width;
    fr->height = f->height;
    return 0;
}

static void frames_free(frames *fr)
{
    for (uint32_t i = 0; i < fr->count; i++)
        md_free(fr->rgb[i]);
}

typedef struct render_req {
    const char *source, *target, *source_texture, *target_texture;
    const char *camera;  /* NULL: auto */
    const char *weights; /* "0,0.5,1" */
    const char *size;
    eng_camera *camera_out;    /* resolved camera, optional */
    eng_texture_filter filter; /* 0: trilinear, the default */
} render_req;

static frames render(const render_req *r)
{
    frames fr = {0};
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    job_input_paths paths = {r->source, r->target, r->source_texture, r->target_texture, NULL};
    job_inputs *in = NULL;
    job_spec spec;
    job_spec_init(&spec);
    eng *e = NULL;
    eng_config cfg = {.kind = ENG_KIND_CPU, .threads = 2};
    int rc = job_inputs_load(&paths, &lim, &in, NULL, &err);
    if (rc == 0)
        rc = job_spec_set_weights(&spec, r->weights, &lim, &err);
    if (rc == 0 && r->size)
        rc = job_spec_set_size(&spec, r->size, &lim, &err);
    if (rc == 0 && r->camera)
        rc = job_spec_set_camera(&spec, r->camera, &err);
    eng_job job;
    if (rc == 0)
        rc = job_build(in, &spec, &job, &err);
    job.texture_filter = r->filter;
    if (rc == 0)
        rc = eng_new(&cfg, &e, &err);
    if (rc == 0) {
        fr.count = job.frame_count;
        rc = eng_batch_run(e, &job, 1, collect, &fr, NULL, &err);
        if (r->camera_out)
            *r->camera_out = job.camera;
    }
    CHECK_OK(rc, &err);
    if (rc != 0) {
        fprintf(stderr, "render of %s -> %s failed\n", r->source, r->target);
        exit(1);
    }
    eng_free(e);
    job_inputs_free(in);
    job_spec_free(&spec);
    return fr;
}

/* Pixels that are not background in either image and differ from some neighbour (edges). */
static int max_diff_inside(const frames *a, int ia, const frames *b, int ib, int *edge_pixels)
{
    int w = a->width, h = a->height, worst = 0;
    *edge_pixels = 0;
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++) {
            size_t i = ((size_t)y * w + x) * 3;
            int d = 0;
            for (int k = 0; k < 3; k++)
                d = fmax(d, abs(a->rgb[ia][i + k] - b->rgb[ib][i + k]));
            /* An edge pixel: the silhouette, where one render shows more background. */
            int edge = 0;
            for (int k = 0; k < 3; k++)
                edge |= abs(a->rgb[ia][i + k] - a->rgb[ia][i + 3 + k]) > 40 ||
                        abs(a->rgb[ia][i + k] - a->rgb[ia][i + w * 3 + k]) > 40;
            if (edge && d > 2) {
                (*edge_pixels)++;
                continue;
            }
            worst = d > worst ? d : worst;
        }
    return worst;
}

static void check_oracle_and_ends(void)
{
    const char *a = md_strdup(test_data("faces/ict/ict_face_identity_A.obj"));
    const char *b = md_strdup(test_data("faces/ict/ict_face_identity_B.obj"));
    const char *n = md_strdup(test_data("faces/ict/ict_neutral_face.obj"));
    const char *ta = md_strdup(test_data("textures/skin_A.png"));
    const char *tb = md_strdup(test_data("textures/skin_B.png"));
    const char *cam = "eye=0,-2,60;target=0,-2,0;up=0,1,0;fov=30";

    /* The oracle: the same texture on both sides, so only geometry can differ. */
    render_req mid = {a, b, ta, ta, cam, "0.5", "512x512", NULL, ENG_FILTER_TRILINEAR};
    render_req neutral = {n, n, ta, ta, cam, "0", "512x512", NULL, ENG_FILTER_TRILINEAR};
    frames fm = render(&mid), fn = render(&neutral);
    double psnr = test_psnr(fm.rgb[0], fn.rgb[0], fm.width, fm.height);
    int edges;
    int worst = max_diff_inside(&fm, 0, &fn, 0, &edges);
    fprintf(stderr, "oracle: PSNR %.2f dB, max channel difference %d off edges (%d edge px)\n",
            psnr, worst, edges);
    CHECK(psnr > 40.0);
    CHECK(worst <= 2);
    frames_free(&fm);
    frames_free(&fn);

    /* Ends: frame t=0 is the source alone, t=1 the target alone (with their own textures). */
    render_req pair = {a, b, ta, tb, cam, "0,1", "256x256", NULL, ENG_FILTER_TRILINEAR};
    render_req only_a = {a, a, ta, ta, cam, "0", "256x256", NULL, ENG_FILTER_TRILINEAR};
    render_req only_b = {b, b, tb, tb, cam, "0", "256x256", NULL, ENG_FILTER_TRILINEAR};
    frames fp = render(&pair), fa = render(&only_a), fb = render(&only_b);
    CHECK_INT(0, test_max_diff(fp.rgb[0], fa.rgb[0], fp.width, fp.height));
    CHECK_INT(0, test_max_diff(fp.rgb[1], fb.rgb[0], fp.width, fp.height));
    CHECK(test_max_diff(fa.rgb[0], fb.rgb[0], fp.width, fp.height) > 20);
    frames_free(&fp);
    frames_free(&fa);
    frames_free(&fb);
    md_free((void *)a);
    md_free((void *)b);
    md_free((void *)n);
    md_free((void *)ta);
    md_free((void *)tb);
}

/* ---- Facepaint ---- */

static void unit(float v[3])
{
    float l = sqrtf(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    for (int k = 0; k < 3; k++)
        v[k] /= l > 0 ? l : 1;
}

/* The texture colour at uv, composited over white as the engine does (Kd = 1). */
static void texel(const img *tex, float u, float v, float rgb[3])
{
    int w = img_width(tex), h = img_height(tex);
    int x = (int)floorf(u * w), y = (int)floorf((1.0f - v) * h);
    x = x < 0 ? 0 : x >= w ? w - 1 : x;
    y = y < 0 ? 0 : y >= h ? h - 1 : y;
    const uint8_t *p = img_pixels_const(tex) + ((size_t)y * w + x) * 4;
    float a = p[3] / 255.0f;
    for (int k = 0; k < 3; k++)
        rgb[k] = p[k] / 255.0f * a + (1.0f - a);
}

static void check_facepaint(void)
{
    const char *obj = test_data("faces/mediapipe/canonical_face_model_facepaint.obj");
    char path[4096];
    snprintf(path, sizeof path, "%s", obj);
    eng_camera cam;
    render_req req = {path, path, NULL, NULL, NULL, "0", "512x512", &cam, ENG_FILTER_TRILINEAR};
    frames fr = render(&req);

    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    mesh *m = NULL;
    CHECK_OK(mesh_load(path, &lim, &m, &err), &err);
    if (m == NULL)
        return;
    const img *tex = mesh_material_texture(m, 0);
    CHECK(tex != NULL);
    float vp[16];
    eng_camera_view_proj(&cam, 1.0f, vp);
    const float *pos = mesh_positions(m), *uvs = mesh_uvs(m);
    const uint32_t *tris = mesh_triangles(m), *tuv = mesh_triangle_uvs(m);
    int tested = 0, matched = 0;
    for (uint32_t t = 0; tex && t < mesh_triangle_count(m); t++) {
        /* Only triangles inside one flat paint region: corners and centroid agree. */
        float c[4][3], uv_c[2] = {0, 0};
        for (int k = 0; k < 3; k++) {
            const float *uv = &uvs[2 * tuv[3 * t + k]];
            texel(tex, uv[0], uv[1], c[k]);
            uv_c[0] += uv[0] / 3;
            uv_c[1] += uv[1] / 3;
        }
        texel(tex, uv_c[0], uv_c[1], c[3]);
        int uniform = 1;
        for (int k = 0; k < 3; k++)
            for (int ch = 0; ch < 3; ch++)
                uniform &= fabsf(c[k][ch] - c[3][ch]) < 0.08f;
        float sat =
            fmaxf(c[3][0], fmaxf(c[3][1], c[3][2])) - fminf(c[3][0], fminf(c[3][1], c[3][2]));
        if (!uniform || sat < 0.25f)
            continue; /* skip white/pale regions: their hue says little */
        /* Facing the camera, so the centroid pixel shows this triangle. */
        const float *p0 = &pos[3 * tris[3 * t]], *p1 = &pos[3 * tris[3 * t + 1]],
                    *p2 = &pos[3 * tris[3 * t + 2]];
        float e1[3], e2[3], nrm[3], ctr[3];
        for (int k = 0; k < 3; k++) {
            e1[k] = p1[k] - p0[k];
            e2[k] = p2[k] - p0[k];
            ctr[k] = (p0[k] + p1[k] + p2[k]) / 3;
        }
        nrm[0] = e1[1] * e2[2] - e1[2] * e2[1];
        nrm[1] = e1[2] * e2[0] - e1[0] * e2[2];
        nrm[2] = e1[0] * e2[1] - e1[1] * e2[0];
        unit(nrm);
        float view[3] = {cam.eye[0] - ctr[0], cam.eye[1] - ctr[1], cam.eye[2] - ctr[2]};
        unit(view);
        if (nrm[0] * view[0] + nrm[1] * view[1] + nrm[2] * view[2] < 0.6f)
            continue;
        float clip[4];
        for (int r = 0; r < 4; r++)
            clip[r] = vp[r] * ctr[0] + vp[4 + r] * ctr[1] + vp[8 + r] * ctr[2] + vp[12 + r];
        int px = (int)((clip[0] / clip[3] + 1) * 0.5f * fr.width);
        int py = (int)((1 - clip[1] / clip[3]) * 0.5f * fr.height);
        if (px < 0 || py < 0 || px >= fr.width || py >= fr.height)
            continue;
        const uint8_t *q = fr.rgb[0] + ((size_t)py * fr.width + px) * 3;
        /* Lighting scales the colour; compare directions of the colours. */
        float got[3] = {q[0] / 255.0f, q[1] / 255.0f, q[2] / 255.0f}, want[3];
        memcpy(want, c[3], sizeof want);
        unit(got);
        unit(want);
        float cosang = got[0] * want[0] + got[1] * want[1] + got[2] * want[2];
        tested++;
        matched += cosang > 0.985f; /* within about 10 degrees */
    }
    fprintf(stderr, "facepaint: %d of %d painted triangles show their paint colour\n", matched,
            tested);
    CHECK(tested > 50);
    CHECK(matched >= tested * 95 / 100);
    mesh_free(m);
    frames_free(&fr);
}

/* ---- Seams ---- */

/* Writes a copy of the texture with its black (unpainted) texels turned magenta. */
static void write_marked_texture(const char *src, const char *dst)
{
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    img *im = NULL;
    CHECK_OK(img_load(src, &lim, &im, &err), &err);
    if (im == NULL)
        exit(1);
    uint8_t *p = img_pixels(im);
    size_t n = (size_t)img_width(im) * img_height(im);
    for (size_t i = 0; i < n; i++)
        if (p[4 * i] < 8 && p[4 * i + 1] < 8 && p[4 * i + 2] < 8) {
            p[4 * i] = 255;
            p[4 * i + 1] = 0;
            p[4 * i + 2] = 255;
        }
    uint8_t *png;
    size_t len;
    CHECK_OK(img_encode_png(p, img_width(im), img_height(im), 4, 1, &png, &len, &err), &err);
    CHECK_OK(md_write_file_atomic(dst, png, len, &err), &err);
    md_free(png);
    img_free(im);
}

static void check_seams(void)
{
    char *a = md_strdup(test_data("faces/ict/ict_face_identity_A.obj"));
    char *b = md_strdup(test_data("faces/ict/ict_face_identity_B.obj"));
    char *ta = md_strdup(test_data("textures/skin_A.png"));
    char *tb = md_strdup(test_data("textures/skin_B.png"));
    const char *tmp = test_tmpdir("render_data");
    char ma[4096], mb[4096];
    snprintf(ma, sizeof ma, "%s/marked_A.png", tmp);
    snprintf(mb, sizeof mb, "%s/marked_B.png", tmp);
    write_marked_texture(ta, ma);
    write_marked_texture(tb, mb);

    /* Three views, so the sides of the face (where seams run) are seen too. */
    const char *cams[] = {NULL, "eye=40,0,40;target=0,-2,0", "eye=-40,10,30;target=0,-2,0"};
    for (int v = 0; v < 3; v++) {
        render_req skin = {a, b, ta, tb, cams[v], "0,0.5,1", "512x512", NULL, ENG_FILTER_TRILINEAR};
        render_req marked = {
            a, b, ma, mb, cams[v], "0,0.5,1", "512x512", NULL, ENG_FILTER_TRILINEAR};
        frames fs = render(&skin), fm = render(&marked);
        long face = 0, black = 0, unexplained = 0, cyan = 0;
        for (uint32_t f = 0; f < fs.count; f++)
            for (size_t i = 0; i < (size_t)fs.width * fs.height; i++) {
                const uint8_t *s = fs.rgb[f] + 3 * i, *m = fm.rgb[f] + 3 * i;
                if (s[0] == 255 && s[1] == 255 && s[2] == 255)
                    continue;
                face++;
                cyan += s[0] < 100 && s[1] > 150 && s[2] > 150;
                if (s[0] < 40 && s[1] < 40 && s[2] < 40) {
                    black++;
                    /* Black must come from the texture's own black: the marked render is
                     * magenta-tinted there. */
                    unexplained += !(m[0] > m[1] + 40 && m[2] > m[1] + 40);
                }
            }
        fprintf(stderr,
                "seams view %d: %ld face pixels, %ld black (texture content), %ld unexplained "
                "black, %ld cyan\n",
                v, face, black, unexplained, cyan);
        CHECK(face > 10000);
        CHECK_INT(0, cyan);
        CHECK_INT(0, unexplained);
        frames_free(&fs);
        frames_free(&fm);
    }
    md_free(a);
    md_free(b);
    md_free(ta);
    md_free(tb);
}

/* Mean absolute difference of horizontally neighbouring pixels (green) where both are on the
 * face (not the white background): a measure of texture aliasing. */
static double neighbour_roughness(const frames *f)
{
    double sum = 0;
    long n = 0;
    for (int y = 0; y < f->height; y++)
        for (int x = 1; x < f->width; x++) {
            const uint8_t *p = f->rgb[0] + ((size_t)y * f->width + x) * 3;
            const uint8_t *q = p - 3;
            if ((p[0] == 255 && p[1] == 255 && p[2] == 255) ||
                (q[0] == 255 && q[1] == 255 && q[2] == 255))
                continue;
            sum += abs(p[1] - q[1]);
            n++;
        }
    return n > 0 ? sum / (double)n : 0.0;
}

/* Issue 17 item 6: a fine checker (2048^2 texels, 2-texel cells) on the ICT face at 512^2
 * with the automatic camera. Bilinear shows moire (neighbouring pixels jump between black and
 * white); trilinear shows the checker's grey, shaded. Both frames are written as PNGs in the
 * test's scratch directory for a look. */
static void check_mipmap_face(void)
{
    char *a = md_strdup(test_data("faces/ict/ict_face_identity_A.obj"));
    const char *tmp = test_tmpdir("render_data_mip");
    char tex[4096];
    snprintf(tex, sizeof tex, "%s/checker.png", tmp);
    enum { T = 2048 };
    uint8_t *px = md_malloc((size_t)T * T * 3);
    for (int y = 0; y < T; y++)
        for (int x = 0; x < T; x++)
            memset(px + ((size_t)y * T + x) * 3, ((x / 2 + y / 2) & 1) ? 255 : 0, 3);
    md_error err;
    md_error_clear(&err);
    uint8_t *png;
    size_t len;
    CHECK_OK(img_encode_png(px, T, T, 3, 1, &png, &len, &err), &err);
    CHECK_OK(md_write_file_atomic(tex, png, len, &err), &err);
    md_free(png);
    md_free(px);

    render_req tri = {a, a, tex, tex, NULL, "0", "512x512", NULL, ENG_FILTER_TRILINEAR};
    render_req bil = {a, a, tex, tex, NULL, "0", "512x512", NULL, ENG_FILTER_BILINEAR};
    frames ft = render(&tri), fb = render(&bil);
    const double rt = neighbour_roughness(&ft), rb = neighbour_roughness(&fb);
    fprintf(stderr,
            "fine checker on the ICT face at 512^2: neighbour roughness trilinear %.2f, bilinear "
            "%.2f (expected trilinear < 6 and bilinear > 4 x trilinear)\n",
            rt, rb);
    CHECK(rt < 6.0);
    CHECK(rb > 4.0 * rt);
    const frames *both[2] = {&ft, &fb};
    const char *names[2] = {"face_trilinear.png", "face_bilinear.png"};
    for (int i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", tmp, names[i]);
        CHECK_OK(img_encode_png(both[i]->rgb[0], both[i]->width, both[i]->height, 3, 1, &png, &len,
                                &err),
                 &err);
        CHECK_OK(md_write_file_atomic(path, png, len, &err), &err);
        md_free(png);
    }
    fprintf(stderr, "frames in %s\n", tmp);
    frames_free(&ft);
    frames_free(&fb);
    md_free(a);
}

int main(void)
{
    test_data("faces/ict/ict_face_identity_A.obj");
    check_oracle_and_ends();
    check_facepaint();
    check_seams();
    check_mipmap_face();
    return test_done();
}
