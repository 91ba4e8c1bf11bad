/*
 * test_engine_quad.c — large triangles (issue 10, item 3) on the CPU path, and the tile split
 * the CUDA rasteriser uses for them (gpu/raster_math.h), run here on the CPU:
 *   - the quad of engine_fixtures.h (two triangles, each box the whole 16384^2 sample grid of
 *     a 2048^2 frame at 64 samples) renders every pixel in its exact colour: no crack, no
 *     background, on the diagonal through sample centres too;
 *   - every one of its samples is covered exactly once, walking each triangle's box whole (the
 *     CPU rasteriser) and walking it tile by tile (the GPU's split), and no tile holds more
 *     than ENG_RASTER_WALK_MAX samples;
 *   - on a jittered grid at an odd size and 3x3 samples (boxes that are not multiples of a
 *     tile, clipped last tiles), the tile walk covers exactly what the box walk covers.
 * test_gpu_parity renders the same quad on the CUDA engine against the CPU engine.
 *
 * Needs about 2 GiB of memory (the frame's visibility buffer, then 1 GiB of counts).
 */
#include "test_util.h"

#include <stdio.h>
#include <string.h>

#include "engine_fixtures.h"
#include "gpu/engine_int.h"
#include "gpu/raster_math.h"

/* counts[s]++ for each sample s of rt's box that is inside (the walk of raster.c and of the
 * CUDA kernels, counting instead of keeping depths). Returns the samples visited. */
static uint64_t walk_count(const eng_raster_tri *rt, uint32_t *counts, int gw)
{
    int64_t row[3] = {rt->row[0], rt->row[1], rt->row[2]};
    uint64_t visited = 0;
    for (int64_t sy = rt->sy0; sy <= rt->sy1; sy++) {
        int64_t e[3] = {row[0], row[1], row[2]};
        uint32_t *out = counts + (size_t)sy * (size_t)gw;
        for (int64_t sx = rt->sx0; sx <= rt->sx1; sx++) {
            if (eng_raster_inside(e[0], e[1], e[2]))
                out[sx]++;
            for (int k = 0; k < 3; k++)
                e[k] += rt->step_x[k];
            visited++;
        }
        for (int k = 0; k < 3; k++)
            row[k] += rt->step_y[k];
    }
    return visited;
}

/* Walks every triangle of p tile by tile into counts (zeroed here); checks each tile's size. */
static void cover_tiles(const char *what, const eng_raster_params *p, uint32_t *counts,
                        uint64_t *tiles_out)
{
    const int gw = p->width * p->grid, gh = p->height * p->grid;
    memset(counts, 0, (size_t)gw * (size_t)gh * sizeof *counts);
    uint64_t tiles = 0, over = 0;
    for (uint32_t f = 0; f < p->triangle_count; f++) {
        eng_raster_tri rt;
        if (!eng_raster_tri_setup(p->clip, p->triangles + (size_t)f * 3, gw, gh, &rt))
            continue;
        const uint64_t n = eng_raster_tile_count(&rt);
        uint64_t visited = 0;
        for (uint64_t t = 0; t < n; t++) {
            eng_raster_tri part;
            eng_raster_tile(&rt, t, &part);
            const uint64_t v = walk_count(&part, counts, gw);
            over += v > ENG_RASTER_WALK_MAX;
            visited += v;
        }
        if (visited != eng_raster_box_samples(&rt)) {
            fprintf(stderr, "%s: triangle %u: tiles visit %llu samples, its box holds %llu\n", what,
                    f, (unsigned long long)visited,
                    (unsigned long long)eng_raster_box_samples(&rt));
            test_failures++;
        }
        tiles += n;
    }
    if (over > 0) {
        fprintf(stderr, "%s: expected no tile over %d samples, got %llu\n", what,
                ENG_RASTER_WALK_MAX, (unsigned long long)over);
        test_failures++;
    }
    *tiles_out = tiles;
}

/* Counts the samples whose count is not want; prints the first few. */
static void check_counts(const char *what, const uint32_t *counts, int gw, int gh, uint32_t want)
{
    uint64_t bad = 0;
    for (size_t s = 0; s < (size_t)gw * (size_t)gh; s++) {
        if (counts[s] == want)
            continue;
        if (bad < 5)
            fprintf(stderr, "%s: sample (%zu, %zu): expected coverage %u, got %u\n", what,
                    s % (size_t)gw, s / (size_t)gw, want, counts[s]);
        bad++;
    }
    if (bad > 0) {
        fprintf(stderr, "%s: %llu samples wrong\n", what, (unsigned long long)bad);
        test_failures++;
    }
}

static void test_quad(void)
{
    fx_mesh m;
    eng_material mat;
    const float weight = 0.0f;
    eng_job job;
    fx_quad_job(&job, &m, &mat, &weight);

    /* The frame on the CPU engine. */
    uint8_t *rgb = fx_render(&job, 1);
    if (rgb != NULL) {
        const int want[3] = {FX_QUAD_R, FX_QUAD_G, FX_QUAD_B};
        uint64_t bad = 0;
        for (int y = 0; y < FX_QUAD_SIZE; y++) {
            for (int x = 0; x < FX_QUAD_SIZE; x++) {
                const uint8_t *px = rgb + ((size_t)y * FX_QUAD_SIZE + (size_t)x) * 3;
                if (px[0] == want[0] && px[1] == want[1] && px[2] == want[2])
                    continue;
                if (bad < 5)
                    fprintf(stderr, "quad: pixel (%d, %d): expected %d,%d,%d, got %d,%d,%d\n", x, y,
                            want[0], want[1], want[2], px[0], px[1], px[2]);
                bad++;
            }
        }
        if (bad > 0) {
            fprintf(stderr, "quad: %llu of %d pixels wrong\n", (unsigned long long)bad,
                    FX_QUAD_SIZE * FX_QUAD_SIZE);
            test_failures++;
        }
        free(rgb);
    }

    /* Coverage: the box walk, then the tile walk. */
    eng_job_setup setup;
    eng_job_setup_make(&job, &setup);
    CHECK_INT(8, setup.grid);
    const int gw = FX_QUAD_SIZE * setup.grid, gh = gw;
    float clip[4 * 4];
    eng_raster_params p;
    memset(&p, 0, sizeof p);
    p.vertex_count = m.vertex_count;
    p.triangle_count = m.triangle_count;
    p.pos = m.pos;
    p.triangles = m.tri;
    memcpy(p.view_proj, setup.view_proj, sizeof p.view_proj);
    p.width = FX_QUAD_SIZE;
    p.height = FX_QUAD_SIZE;
    p.grid = setup.grid;
    p.clip = clip;
    uint32_t *counts = fx_alloc((size_t)gw * (size_t)gh * sizeof *counts);
    eng_cpu_raster_coverage(&p, counts);
    check_counts("quad, box walk", counts, gw, gh, 1);

    for (uint32_t f = 0; f < m.triangle_count; f++) {
        eng_raster_tri rt;
        CHECK(eng_raster_tri_setup(clip, m.tri + f * 3, gw, gh, &rt));
        CHECK_INT((uint64_t)gw * (uint64_t)gh, eng_raster_box_samples(&rt));
    }
    uint64_t tiles = 0;
    cover_tiles("quad, tiles", &p, counts, &tiles);
    check_counts("quad, tiles", counts, gw, gh, 1);
    /* Both boxes are the whole grid, a multiple of the tile side. */
    CHECK_INT(2 * ((uint64_t)gw / ENG_RASTER_TILE) * ((uint64_t)gh / ENG_RASTER_TILE), tiles);
    free(counts);
    fx_mesh_free(&m);
}

static void test_odd_grid(void)
{
    /* Cells of a few hundred samples at 3x3 on 301 x 257: boxes of every shape, most of them
     * more than one tile and none a multiple of it. */
    fx_mesh m;
    fx_grid(&m, 3, -0.97f, -0.91f, 0.93f, 0.96f, 0.25f, 0.3f, 77u, 1);
    enum { W = 301, H = 257, G = 3 };
    const int gw = W * G, gh = H * G;
    float clip[4 * 16];
    eng_raster_params p;
    memset(&p, 0, sizeof p);
    p.vertex_count = m.vertex_count;
    p.triangle_count = m.triangle_count;
    p.pos = m.pos;
    p.triangles = m.tri;
    p.view_proj[0] = p.view_proj[5] = p.view_proj[10] = p.view_proj[15] = 1.0f; /* NDC as is */
    p.width = W;
    p.height = H;
    p.grid = G;
    p.clip = clip;
    uint32_t *box = fx_alloc((size_t)gw * (size_t)gh * sizeof *box);
    uint32_t *tiled = fx_alloc((size_t)gw * (size_t)gh * sizeof *tiled);
    eng_cpu_raster_coverage(&p, box);
    uint64_t tiles = 0;
    cover_tiles("odd grid, tiles", &p, tiled, &tiles);
    uint64_t differ = 0, covered = 0;
    for (size_t s = 0; s < (size_t)gw * (size_t)gh; s++) {
        differ += box[s] != tiled[s];
        covered += box[s] > 0;
    }
    CHECK_INT(0, differ);
    /* The grid fills most of the frame, with triangles of many tiles: real splitting. */
    if (!(covered > (uint64_t)gw * (uint64_t)gh / 2 && tiles > 4 * (uint64_t)m.triangle_count)) {
        fprintf(stderr,
                "odd grid: expected over %llu samples covered and over %llu tiles, got "
                "%llu and %llu\n",
                (unsigned long long)gw * (unsigned long long)gh / 2,
                4 * (unsigned long long)m.triangle_count, (unsigned long long)covered,
                (unsigned long long)tiles);
        test_failures++;
    }
    free(box);
    free(tiled);
    fx_mesh_free(&m);
}

int main(void)
{
    test_odd_grid();
    test_quad();
    return test_done();
}
