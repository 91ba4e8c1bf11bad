/*
 * sample.c — `morph sample DIR`: writes two small head-like meshes with the same topology and
 * their textures (sample_A/B .obj, .mtl, .png), so `make run` and the core tests work on any
 * machine, without the shared face data.
 *
 * Geometry: a latitude/longitude sphere (shared vertices; poles are single vertices) shaped by
 * per-mesh parameters: proportions, a nose, a chin, brows. UVs are a separate (N+1) x (M+1) grid,
 * so the u seam does not split vertices: the same layout as real face OBJs. Front (+Z) is at
 * u = 0.5. Textures are painted procedurally: a skin tone, eyes, brows and a mouth placed in the
 * UV layout, different for A and B so the morph visibly blends them.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "mesh/image.h"
#include "base/md.h"

#define SAMPLE_LON 96 /* vertices around */
#define SAMPLE_LAT 64 /* rings from pole to pole, poles included */
#define SAMPLE_TEX 512

typedef struct head_shape {
    float rx, ry, rz; /* ellipsoid radii */
    float nose;       /* nose height along +Z */
    float nose_width;
    float chin;    /* forward push of the lower face */
    float brow;    /* ridge above the eyes */
    float skin[3]; /* texture base colour */
    float iris[3];
    float eye_gap;     /* eye distance from the centre line, in u */
    float mouth_width; /* in u */
} head_shape;

static const head_shape shapes[2] = {
    {0.78f,
     1.00f,
     0.86f,
     0.20f,
     0.10f,
     0.05f,
     0.05f,
     {0.93f, 0.76f, 0.62f},
     {0.25f, 0.45f, 0.7f},
     0.060f,
     0.070f},
    {0.88f,
     0.94f,
     0.80f,
     0.30f,
     0.14f,
     0.12f,
     0.09f,
     {0.62f, 0.45f, 0.35f},
     {0.35f, 0.25f, 0.1f},
     0.075f,
     0.095f},
};

static float bump(float d2, float width)
{
    return expf(-d2 / (2.0f * width * width));
}

/* Position on the head for longitude u in [0,1) and latitude v in [0,1] (v = 1 at the top). */
static void head_point(const head_shape *s, float u, float v, float p[3])
{
    const float pi = 3.14159265358979f;
    float phi = 2.0f * pi * (u - 0.5f); /* 0 at the front (+Z) */
    float theta = pi * (1.0f - v);      /* 0 at the top */
    float x = sinf(theta) * sinf(phi), y = cosf(theta), z = sinf(theta) * cosf(phi);
    float front = z > 0 ? z : 0;
    float du = u - 0.5f, dv = v - 0.45f;
    float r = 1.0f + s->nose * bump(du * du * 4.0f + dv * dv, s->nose_width) * front;
    r += s->brow * bump((v - 0.60f) * (v - 0.60f), 0.025f) * front * front;
    r += s->chin * bump((v - 0.22f) * (v - 0.22f), 0.05f) * front * front;
    p[0] = s->rx * r * x;
    p[1] = s->ry * r * y;
    p[2] = s->rz * r * z;
}

static uint32_t vertex_index(int lon, int lat)
{
    if (lat == 0)
        return 0;
    if (lat == SAMPLE_LAT - 1)
        return 1 + (uint32_t)(SAMPLE_LAT - 2) * SAMPLE_LON;
    return 1 + (uint32_t)(lat - 1) * SAMPLE_LON + (uint32_t)(lon % SAMPLE_LON);
}

static int write_obj(const char *dir, const char *name, const head_shape *s, md_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.obj", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return md_fail(err, MD_EIO, "cannot create %s", path);
    fprintf(f, "# morphd sample head '%s' (morph sample): %d x %d lat/long grid\n", name,
            SAMPLE_LON, SAMPLE_LAT);
    fprintf(f, "mtllib %s.mtl\n", name);
    for (int lat = 0; lat < SAMPLE_LAT; lat++) {
        int count = lat == 0 || lat == SAMPLE_LAT - 1 ? 1 : SAMPLE_LON;
        for (int lon = 0; lon < count; lon++) {
            float p[3];
            head_point(s, (float)lon / SAMPLE_LON, 1.0f - (float)lat / (SAMPLE_LAT - 1), p);
            fprintf(f, "v %.6f %.6f %.6f\n", (double)p[0], (double)p[1], (double)p[2]);
        }
    }
    for (int lat = 0; lat < SAMPLE_LAT; lat++)
        for (int lon = 0; lon <= SAMPLE_LON; lon++)
            fprintf(f, "vt %.6f %.6f\n", (double)lon / SAMPLE_LON,
                    1.0 - (double)lat / (SAMPLE_LAT - 1));
    fprintf(f, "usemtl skin\n");
    for (int lat = 0; lat < SAMPLE_LAT - 1; lat++)
        for (int lon = 0; lon < SAMPLE_LON; lon++) {
            /* Corners counter-clockwise seen from outside: (lat,lon), (lat+1,lon),
             * (lat+1,lon+1), (lat,lon+1); 1-based indices, uv grid (SAMPLE_LON+1) wide. */
            uint32_t v[4] = {vertex_index(lon, lat), vertex_index(lon, lat + 1),
                             vertex_index(lon + 1, lat + 1), vertex_index(lon + 1, lat)};
            uint32_t t[4] = {(uint32_t)(lat * (SAMPLE_LON + 1) + lon),
                             (uint32_t)((lat + 1) * (SAMPLE_LON + 1) + lon),
                             (uint32_t)((lat + 1) * (SAMPLE_LON + 1) + lon + 1),
                             (uint32_t)(lat * (SAMPLE_LON + 1) + lon + 1)};
            if (lat == 0) /* top cap: v[0] and v[3] are the pole */
                fprintf(f, "f %u/%u %u/%u %u/%u\n", v[0] + 1, t[0] + 1, v[1] + 1, t[1] + 1,
                        v[2] + 1, t[2] + 1);
            else if (lat == SAMPLE_LAT - 2) /* bottom cap: v[1] and v[2] are the pole */
                fprintf(f, "f %u/%u %u/%u %u/%u\n", v[0] + 1, t[0] + 1, v[1] + 1, t[1] + 1,
                        v[3] + 1, t[3] + 1);
            else
                fprintf(f, "f %u/%u %u/%u %u/%u %u/%u\n", v[0] + 1, t[0] + 1, v[1] + 1, t[1] + 1,
                        v[2] + 1, t[2] + 1, v[3] + 1, t[3] + 1);
        }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return md_fail(err, MD_EIO, "cannot write %s", path);

    snprintf(path, sizeof path, "%s/%s.mtl", dir, name);
    char mtl[256];
    int n = snprintf(mtl, sizeof mtl, "newmtl skin\nKd 1 1 1\nmap_Kd %s.png\n", name);
    return md_write_file_atomic(path, mtl, (size_t)n, err);
}

/* Paints the face features in UV space: eyes with irises, brows and a mouth. */
static void paint_texel(const head_shape *s, float u, float v, float rgb[3])
{
    memcpy(rgb, s->skin, sizeof s->skin);
    /* Soft blotches so texture sampling and blending are visible everywhere. */
    float shade = 0.92f + 0.08f * sinf(u * 60.0f) * sinf(v * 45.0f);
    for (int k = 0; k < 3; k++)
        rgb[k] *= shade;
    for (int side = -1; side <= 1; side += 2) {
        float eu = u - (0.5f + (float)side * s->eye_gap), ev = (v - 0.56f) * 1.6f;
        float d = sqrtf(eu * eu + ev * ev);
        if (d < 0.028f)
            for (int k = 0; k < 3; k++)
                rgb[k] = d < 0.013f ? s->iris[k] * (d < 0.006f ? 0.2f : 1.0f) : 0.97f;
        float bu = u - (0.5f + (float)side * s->eye_gap), bv = v - 0.615f;
        if (fabsf(bu) < 0.035f && fabsf(bv) < 0.006f)
            for (int k = 0; k < 3; k++)
                rgb[k] = s->skin[k] * 0.35f;
    }
    float mu = (u - 0.5f) / s->mouth_width, mv = (v - 0.33f) / 0.012f;
    if (mu * mu + mv * mv < 1.0f) {
        rgb[0] = 0.70f;
        rgb[1] = 0.25f;
        rgb[2] = 0.28f;
    }
}

static int write_texture(const char *dir, const char *name, const head_shape *s, md_error *err)
{
    uint8_t *rgb = md_malloc((size_t)SAMPLE_TEX * SAMPLE_TEX * 3);
    if (rgb == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    for (int y = 0; y < SAMPLE_TEX; y++)
        for (int x = 0; x < SAMPLE_TEX; x++) {
            float c[3];
            paint_texel(s, (x + 0.5f) / SAMPLE_TEX, 1.0f - (y + 0.5f) / SAMPLE_TEX, c);
            for (int k = 0; k < 3; k++)
                rgb[((size_t)y * SAMPLE_TEX + (size_t)x) * 3 + (size_t)k] =
                    (uint8_t)lroundf(fminf(fmaxf(c[k], 0.0f), 1.0f) * 255.0f);
        }
    uint8_t *png = NULL;
    size_t len = 0;
    int rc = img_encode_png(rgb, SAMPLE_TEX, SAMPLE_TEX, 3, 6, &png, &len, err);
    md_free(rgb);
    if (rc != 0)
        return rc;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.png", dir, name);
    rc = md_write_file_atomic(path, png, len, err);
    md_free(png);
    return rc;
}

int cli_sample(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: morph sample DIR\n\n"
               "Writes two head-shaped meshes with the same topology and their textures to DIR:\n"
               "sample_A.obj/.mtl/.png and sample_B.obj/.mtl/.png (%d vertices each). Try:\n"
               "  morph run DIR/sample_A.obj DIR/sample_B.obj -o out\n",
               (SAMPLE_LAT - 2) * SAMPLE_LON + 2);
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "morph sample: expected one folder argument (see morph sample --help)\n");
        return 2;
    }
    md_error err;
    md_error_clear(&err);
    const char *dir = argv[1];
    static const char *names[2] = {"sample_A", "sample_B"};
    int rc = md_mkdir_p(dir, &err);
    for (int i = 0; rc == 0 && i < 2; i++) {
        rc = write_obj(dir, names[i], &shapes[i], &err);
        if (rc == 0)
            rc = write_texture(dir, names[i], &shapes[i], &err);
    }
    if (rc != 0) {
        fprintf(stderr, "morph sample: %s\n", err.msg);
        return md_err_exit_code(rc);
    }
    printf("morph sample: wrote %s/sample_A.obj and %s/sample_B.obj with textures\n", dir, dir);
    return 0;
}
