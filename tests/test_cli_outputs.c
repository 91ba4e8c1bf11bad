/*
 * test_cli_outputs.c — `morph run --outputs ...` on the sample pair (`morph sample`): every
 * artifact of DESIGN.md §6 is written, listed in manifest.json with its real size, the CSVs
 * have the exact headers and one row per vertex / frame / statistic, the MP4 decodes
 * (libavformat) to the frame count in order (each decoded frame closest to its own PNG), the
 * per-frame meshes reopen with their texture (OBJ and GLB), pingpong doubles back, a re-run
 * with fewer outputs leaves none of the old ones, and a bad value of each new option fails
 * with a message naming the option. Needs no shared data.
 */
#define _GNU_SOURCE
#include "test_util.h"
#include "video_decode.h"

#include <dirent.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "mesh/image.h"
#include "mesh/mesh.h"

#define W 96
#define H 64
#define FRAMES 9

static char last_stderr[8192];

/* Runs `morph ARGS` with stdout and stderr captured; returns the exit status. */
static int morph(const char *tmp, const char *args)
{
    return test_run_morph(tmp, "", args, last_stderr, sizeof last_stderr);
}

#define CHECK_STDERR(needle) CHECK_CONTAINS(last_stderr, needle)

static long file_size(const char *dir, const char *name)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static char *read_text(const char *dir, const char *name)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = NULL;
    size_t len = 0;
    md_error err;
    if (md_read_file(path, 1u << 30, &text, &len, &err) != 0) {
        fprintf(stderr, "cannot read %s: %s\n", path, err.msg);
        test_failures++;
        return NULL;
    }
    return text;
}

/* Checks a CSV's first line and counts its data rows. */
static long csv_rows(const char *dir, const char *name, const char *header)
{
    char *text = read_text(dir, name);
    if (text == NULL)
        return -1;
    size_t hl = strlen(header);
    if (strncmp(text, header, hl) != 0 || text[hl] != '\n') {
        fprintf(stderr, "%s: header is '%.*s', expected '%s'\n", name, (int)hl + 8, text, header);
        test_failures++;
    }
    long lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    md_free(text);
    return lines - 1;
}

static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        n += len > sl && strcmp(e->d_name + len - sl, suffix) == 0;
    }
    closedir(d);
    return n;
}

/* The frames' PNGs as RGB8, in index order (names sort in playing order). */
static int load_frames(const char *out, uint8_t **rgb, int cap)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/frames", out);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort), count = 0;
    md_limits lim;
    md_limits_default(&lim);
    for (int i = 0; i < n; i++) {
        if (strstr(names[i]->d_name, ".png") != NULL && count < cap) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            img *im = NULL;
            md_error err;
            CHECK_OK(img_load(path, &lim, &im, &err), &err);
            rgb[count] = md_malloc((size_t)W * H * 3);
            for (int p = 0; im != NULL && p < W * H; p++)
                memcpy(rgb[count] + 3 * p, img_pixels_const(im) + 4 * p, 3);
            img_free(im);
            count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

/* Decoded frame k must be closest to PNG order[k]. */
static void check_video(const char *out, const int *order, int n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/animation.mp4", out);
    decoded d;
    CHECK_INT(0, decode_mp4(path, &d));
    CHECK_INT(n, d.count);
    CHECK_INT(W, d.width);
    CHECK_INT(H, d.height);
    uint8_t *frames[FRAMES];
    int have = load_frames(out, frames, FRAMES);
    CHECK_INT(FRAMES, have);
    for (int k = 0; k < d.count && k < n && have == FRAMES && d.width == W; k++) {
        int best = -1;
        double best_psnr = -1;
        for (int i = 0; i < FRAMES; i++) {
            double p = test_psnr(frames[i], d.rgb[k], W, H);
            if (p > best_psnr) {
                best_psnr = p;
                best = i;
            }
        }
        if (best != order[k]) {
            fprintf(stderr, "video frame %d looks like frame %d (%.1f dB), expected %d\n", k, best,
                    best_psnr, order[k]);
            test_failures++;
        }
    }
    for (int i = 0; i < have; i++)
        md_free(frames[i]);
    decoded_free(&d);
}

/* ---- The runs ---- */

static const char *const top_level[] = {
    "shape_displacement_components.png",
    "texture_difference_components.png",
    "texture_difference_uv_luminance.png",
    "texture_difference_uv_chroma.png",
    "texture_difference_uv_delta_e.png",
    "statistics.csv",
    "vertex_displacements.csv",
    "texture_differences.csv",
    "frames.csv",
    "animation.mp4",
};

static void check_all(const char *tmp)
{
    char args[16384], out[4096], meshes[4200];
    snprintf(out, sizeof out, "%s/all", tmp);
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s --size %dx%d --frames %d "
             "--outputs all",
             tmp, tmp, out, W, H, FRAMES);
    double t0 = md_now();
    CHECK_INT(0, morph(tmp, args));
    fprintf(stderr, "morph run --outputs all: %.2f s\n", md_now() - t0);
    CHECK_STDERR("producing animation.mp4");
    CHECK_STDERR("producing heatmaps");

    for (size_t i = 0; i < sizeof top_level / sizeof top_level[0]; i++) {
        if (file_size(out, top_level[i]) <= 0) {
            fprintf(stderr, "%s is missing or empty\n", top_level[i]);
            test_failures++;
        }
    }
    snprintf(meshes, sizeof meshes, "%s/meshes", out);
    CHECK_INT(FRAMES, count_files(meshes, ".obj"));
    CHECK_INT(FRAMES, count_files(meshes, ".mtl"));
    CHECK_INT(FRAMES, count_files(meshes, ".png"));

    /* The CSVs: exact headers, one row per vertex, statistic, frame. */
    CHECK_INT(6, csv_rows(out, "statistics.csv",
                          "metric,component,mean,std,min,max,p25,p50,p75,p95,p99"));
    /* The face-morph tool's component names, in its order (README, statistics.csv). */
    char *stats_csv = read_text(out, "statistics.csv");
    const char *components[] = {
        "\nshape,normal_displacement,",      "\nshape,tangent_displacement,",
        "\nshape,total_displacement,",       "\ntexture,luminance_difference,",
        "\ntexture,chrominance_difference,", "\ntexture,perceptual_difference,"};
    const char *at = stats_csv;
    for (size_t c = 0; c < sizeof components / sizeof components[0] && at != NULL; c++) {
        const char *hit = strstr(at, components[c]);
        if (hit == NULL)
            fprintf(stderr, "statistics.csv: expected row '%s' (in this order), got:\n%s\n",
                    components[c] + 1, stats_csv);
        CHECK(hit != NULL);
        at = hit;
    }
    md_free(stats_csv);
    CHECK_INT(5954, csv_rows(out, "vertex_displacements.csv",
                             "vertex_id,x_a,y_a,z_a,x_b,y_b,z_b,normal_disp,tangent_disp,"
                             "total_disp"));
    CHECK(csv_rows(out, "texture_differences.csv",
                   "pixel_x,pixel_y,luminance_diff,chroma_diff,delta_e") > 1000);
    CHECK_INT(FRAMES, csv_rows(out, "frames.csv",
                               "index,weight,mean_disp_from_source,max_disp_from_source,"
                               "mean_disp_from_target,max_disp_from_target"));

    /* The figures are PNGs. */
    md_limits lim;
    md_limits_default(&lim);
    char path[8192];
    snprintf(path, sizeof path, "%s/shape_displacement_components.png", out);
    img *fig = NULL;
    md_error err;
    CHECK_OK(img_load(path, &lim, &fig, &err), &err);
    CHECK(fig != NULL && img_width(fig) > img_height(fig)); /* three panels side by side */
    img_free(fig);

    /* The middle frame's mesh reopens with its texture. */
    snprintf(path, sizeof path, "%s/0004_sample_A-0500_sample_B-0500.obj", meshes);
    mesh *m = NULL;
    CHECK_OK(mesh_load(path, &lim, &m, &err), &err);
    if (m != NULL) {
        CHECK_INT(5954, mesh_vertex_count(m));
        CHECK(mesh_material_count(m) >= 1 && mesh_material_texture(m, 0) != NULL);
    }
    mesh_free(m);

    /* The video: FRAMES frames, each closest to its own PNG. */
    int order[FRAMES];
    for (int i = 0; i < FRAMES; i++)
        order[i] = i;
    check_video(out, order, FRAMES);

    /* The manifest lists every artifact with its size on disk and a time. */
    snprintf(path, sizeof path, "%s/manifest.json", out);
    json_error_t jerr;
    json_t *man = json_load_file(path, 0, &jerr);
    CHECK(man != NULL);
    json_t *outputs = json_object_get(man, "outputs");
    json_t *arts = json_object_get(outputs, "artifacts");
    CHECK_INT(sizeof top_level / sizeof top_level[0] + 3 * FRAMES, json_array_size(arts));
    size_t i;
    json_t *a;
    json_array_foreach(arts, i, a)
    {
        const char *name = json_string_value(json_object_get(a, "name"));
        long listed = (long)json_integer_value(json_object_get(a, "bytes"));
        long real = name ? file_size(out, name) : -2;
        if (listed != real) {
            fprintf(stderr, "manifest lists %s with %ld bytes, the file has %ld\n", name, listed,
                    real);
            test_failures++;
        }
        CHECK(json_real_value(json_object_get(a, "seconds")) >= 0);
        CHECK(json_string_value(json_object_get(a, "content_type")) != NULL);
    }
    CHECK_INT(5, json_array_size(json_object_get(outputs, "requested")));
    CHECK_INT(0, json_array_size(json_object_get(outputs, "notes")));
    json_t *stats = json_object_get(outputs, "statistics");
    CHECK_INT(5954, json_integer_value(json_object_get(
                        json_object_get(json_object_get(stats, "shape"), "total"), "count")));
    CHECK(json_object_get(stats, "texture") != NULL &&
          !json_is_null(json_object_get(stats, "texture")));
    CHECK(strcmp(json_string_value(json_object_get(json_object_get(outputs, "alignment"), "mode")),
                 "none") == 0);
    json_decref(man);

    /* A re-run into the same folder with the default outputs leaves only its own artifacts. */
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s --size %dx%d --frames %d -q", tmp, tmp,
             out, W, H, FRAMES);
    CHECK_INT(0, morph(tmp, args));
    CHECK(file_size(out, "shape_displacement_components.png") > 0);
    CHECK(file_size(out, "texture_difference_components.png") > 0);
    CHECK_INT(-1, file_size(out, "animation.mp4"));
    CHECK_INT(-1, file_size(out, "statistics.csv"));
    CHECK_INT(0, count_files(meshes, ".obj"));
}

static void check_glb_pingpong(const char *tmp)
{
    char args[16384], out[4096], meshes[4200];
    snprintf(out, sizeof out, "%s/glb", tmp);
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s --size %dx%d --frames %d "
             "--outputs meshes,video --mesh-format glb --loop pingpong --fps 12 --align rigid -q",
             tmp, tmp, out, W, H, FRAMES);
    CHECK_INT(0, morph(tmp, args));
    snprintf(meshes, sizeof meshes, "%s/meshes", out);
    CHECK_INT(FRAMES, count_files(meshes, ".glb"));
    CHECK_INT(0, count_files(meshes, ".obj"));
    CHECK_INT(-1, file_size(out, "shape_displacement_components.png"));
    CHECK_INT(-1, file_size(out, "statistics.csv"));
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    char path[8192];
    snprintf(path, sizeof path, "%s/0008_sample_A-0000_sample_B-1000.glb", meshes);
    mesh *m = NULL;
    CHECK_OK(mesh_load(path, &lim, &m, &err), &err);
    if (m != NULL)
        CHECK_INT(5954, mesh_vertex_count(m));
    mesh_free(m);
    /* Ping-pong: 0..8 then 7..1. */
    int order[2 * FRAMES - 2];
    for (int i = 0; i < 2 * FRAMES - 2; i++)
        order[i] = i < FRAMES ? i : 2 * FRAMES - 2 - i;
    check_video(out, order, 2 * FRAMES - 2);
    snprintf(path, sizeof path, "%s/manifest.json", out);
    json_error_t jerr;
    json_t *man = json_load_file(path, 0, &jerr);
    json_t *opts = json_object_get(json_object_get(man, "outputs"), "options");
    CHECK_INT(12, json_integer_value(json_object_get(opts, "fps")));
    CHECK(strcmp(json_string_value(json_object_get(opts, "loop")), "pingpong") == 0);
    CHECK(strcmp(json_string_value(json_object_get(opts, "mesh_format")), "glb") == 0);
    json_decref(man);
}

static void check_untextured(const char *tmp)
{
    /* The samples without their MTL: no texture, so texture outputs are skipped with a note. */
    char args[16384], out[4096], bare[4200];
    snprintf(bare, sizeof bare, "%s/bare", tmp);
    md_error err;
    CHECK_OK(md_mkdir_p(bare, &err), &err);
    for (int i = 0; i < 2; i++) {
        char *text = NULL;
        size_t len = 0;
        char src[8192], dst[8192];
        snprintf(src, sizeof src, "%s/s/sample_%c.obj", tmp, 'A' + i);
        snprintf(dst, sizeof dst, "%s/sample_%c.obj", bare, 'A' + i);
        CHECK_OK(md_read_file(src, 1u << 28, &text, &len, &err), &err);
        CHECK_OK(md_write_file_atomic(dst, text, len, &err), &err);
        md_free(text);
    }
    snprintf(out, sizeof out, "%s/bare-out", tmp);
    snprintf(args, sizeof args,
             "run %s/sample_A.obj %s/sample_B.obj -o %s --size %dx%d --frames 3 --outputs "
             "heatmaps,csv",
             bare, bare, out, W, H);
    CHECK_INT(0, morph(tmp, args));
    CHECK_STDERR("texture outputs skipped");
    CHECK(file_size(out, "shape_displacement_components.png") > 0);
    CHECK(file_size(out, "statistics.csv") > 0);
    CHECK_INT(-1, file_size(out, "texture_differences.csv"));
    CHECK_INT(-1, file_size(out, "texture_difference_components.png"));
    CHECK_INT(3, csv_rows(out, "statistics.csv",
                          "metric,component,mean,std,min,max,p25,p50,p75,p95,p99"));
}

static void check_bad_values(const char *tmp)
{
    static const struct {
        const char *flag, *value, *needle;
    } bad[] = {
        {"--outputs", "frames,gif", "--outputs: 'gif' is not an output"},
        {"--outputs", "", "--outputs:"},
        {"--align", "affine", "--align: 'affine'"},
        {"--heatmap-scale", "2:1",
         "--heatmap-scale (the shorthand for --shape-scale): '2:1': MIN must be less than MAX"},
        {"--heatmap-scale", "big", "--heatmap-scale (the shorthand for --shape-scale): 'big'"},
        {"--shape-scale", "2:1", "--shape-scale: '2:1': MIN must be less than MAX"},
        {"--shape-scale", "1:nan", "--shape-scale: '1:nan': expected 'auto' or MIN:MAX"},
        {"--texture-scale", "5", "--texture-scale: '5': expected 'auto' or MIN:MAX (e.g. -2:2)"},
        {"--texture-scale", "0:1e40", "--texture-scale: '0:1e40'"},
        {"--mesh-format", "stl", "--mesh-format: 'stl'"},
        {"--fps", "0", "--fps: '0'"},
        {"--fps", "121", "--fps: '121'"},
        {"--fps", "ten", "--fps: 'ten'"},
        {"--loop", "bounce", "--loop: 'bounce'"},
    };
    char args[16384];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s/e %s '%s'", tmp,
                 tmp, tmp, bad[i].flag, bad[i].value);
        CHECK_INT(2, morph(tmp, args));
        CHECK_STDERR(bad[i].needle);
    }
    /* --heatmap-scale is the shorthand for --shape-scale: both at once is a usage error. */
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s/e --heatmap-scale -1:1 "
             "--shape-scale -2:2",
             tmp, tmp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_STDERR("--heatmap-scale is the shorthand for --shape-scale: give one of them");
    /* The video's frames are held until they can be encoded in order: a bound, said up front. */
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s/e --outputs video --frames 2000 "
             "--size 512x512",
             tmp, tmp, tmp);
    CHECK(morph(tmp, args) != 0);
    CHECK_STDERR("lower frames or size");
}

int main(void)
{
    const char *tmp = test_tmpdir("cli_outputs");
    char args[8192];
    CHECK_INT(0, morph(tmp, "run --help"));
    snprintf(args, sizeof args, "sample %s/s", tmp);
    CHECK_INT(0, morph(tmp, args));
    check_bad_values(tmp);
    check_all(tmp);
    check_glb_pingpong(tmp);
    check_untextured(tmp);
    return test_done();
}
