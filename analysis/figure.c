/*
 * figure.c — the heatmap figures a morph job writes: shape_displacement_components.png,
 * texture_difference_components.png and texture_difference_uv_{luminance,chroma,delta_e}.png.
 * Called by the job's analysis step on its own thread; each call builds its own cairo surface and
 * returns PNG bytes (img_encode_png) the caller owns and stores. Everything passed in is borrowed.
 *
 * A figure is a row of panels. A panel is a title and a subtitle, an image (a mesh render from
 * heatmap_render.c, or a UV-space map) copied 1:1 into the figure, a line with the data's range
 * under it, and a vertical colour bar with ticks, numbers and units to its right. cairo draws
 * the text, lines and layout; the only pixels made here are the images themselves: the bar is
 * an image whose rows are ana_colormap_at() of their position (colormap.c), the same lookup that
 * coloured the mesh, so bar and mesh agree exactly. The bar row under each tick is painted with
 * the tick value's own colour, so "the bar at tick 1.5 is colour(1.5)" holds to the byte.
 * Each figure kind takes its own range: the shape figure opts->shape_scale (mesh units), the
 * texture figures opts->texture_scale (L*a*b* units). A caption wider than its render widens
 * the panel on both sides, so none is clipped at the figure's edge.
 *
 * Layout scales with the render height (k = height / 512) so a 1024-pixel render gets larger
 * type. Text is DejaVu Sans (fonts-dejavu-core) through cairo's toy font API and fontconfig.
 */
#include "analysis/analysis.h"
#include "analysis/ana_int.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gpu/engine.h"

#define FONT "DejaVu Sans"
#define INK 0.13 /* text and tick grey */

typedef struct panel_desc {
    const char *title;
    const char *subtitle;
    const char *units;
    ana_colormap map;
    float lo, hi;
    const uint8_t *rgb; /* w x h RGB8, top row first */
    int w, h;
    int has_data;
    float data_min, data_max;
} panel_desc;

/* ---- Ticks ---- */

/* Ticks at multiples of a 1-2-5 step, four to eight over [lo, hi]; decimals for the labels. */
static int nice_ticks(float lo, float hi, float *ticks, int max, int *decimals)
{
    double range = (double)hi - (double)lo;
    double raw = range / 6.0;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    double step = (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * mag;
    int dec = (int)ceil(-log10(step) - 1e-9);
    *decimals = dec < 0 ? 0 : (dec > 8 ? 8 : dec);
    int n = 0;
    double eps = step * 1e-6;
    for (double k = ceil(((double)lo - eps) / step); n < max; k += 1.0) {
        double t = k * step;
        if (t > (double)hi + eps)
            break;
        if (fabs(t) < eps)
            t = 0.0;
        ticks[n++] = (float)(t < lo ? lo : (t > hi ? hi : t));
    }
    return n;
}

/* "1.25", "−0.5" (a real minus sign), "0". */
static void format_number(double v, int decimals, char *out, size_t cap)
{
    char num[32];
    snprintf(num, sizeof num, "%.*f", decimals, fabs(v));
    int zero = 1;
    for (const char *p = num; *p != '\0'; p++)
        if (*p >= '1' && *p <= '9')
            zero = 0;
    snprintf(out, cap, "%s%s", v < 0 && !zero ? "\xe2\x88\x92" : "", num);
}

/* ---- cairo helpers ---- */

static void set_font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_width(cairo_t *cr, const char *s)
{
    cairo_text_extents_t ex;
    cairo_text_extents(cr, s, &ex);
    return ex.x_advance;
}

static void draw_text(cairo_t *cr, double x, double y, const char *s)
{
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s);
}

/* An RGB24 image surface holding rgb (w x h RGB8). */
static cairo_surface_t *surface_from_rgb(const uint8_t *rgb, int w, int h)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS)
        return s;
    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < h; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * (size_t)stride);
        const uint8_t *src = rgb + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < w; x++)
            row[x] = (uint32_t)src[3 * x] << 16 | (uint32_t)src[3 * x + 1] << 8 | src[3 * x + 2];
    }
    cairo_surface_mark_dirty(s);
    return s;
}

/* Copies an image surface 1:1 with its top-left corner at integer (x, y). */
static void blit(cairo_t *cr, cairo_surface_t *s, int x, int y, int w, int h)
{
    cairo_save(cr);
    cairo_set_source_surface(cr, s, x, y);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill(cr);
    cairo_restore(cr);
}

/* ---- Layout ---- */

#define ANA_DATA_LINE_MAX 200

/* "data: −2.01 to 2.42 mesh units", with a note when the data reach beyond the bar; 0 (and no
 * line) for a panel without data. The bar's range may be fixed, the data's is not. */
static int data_line(const panel_desc *p, char *line, size_t cap)
{
    if (!p->has_data)
        return 0;
    char a[48], b[48];
    double span = fmax(fabs(p->data_min), fabs(p->data_max));
    int dec = span > 0 ? (int)ceil(2.0 - log10(span)) : 2;
    dec = dec < 0 ? 0 : (dec > 8 ? 8 : dec);
    format_number(p->data_min, dec, a, sizeof a);
    format_number(p->data_max, dec, b, sizeof b);
    int clipped = p->data_min < p->lo || p->data_max > p->hi;
    snprintf(line, cap, "data: %s to %s %s%s", a, b, p->units,
             clipped ? " (beyond the bar: end colours)" : "");
    return 1;
}

typedef struct panel_layout {
    double k;
    int pad, head, bar_gap, bar_w, bar_h, tick_len, label_gap, foot;
    int inset; /* extra margin left of the render (and at least that right of it) */
    int ticks_n, decimals;
    float ticks[ANA_TICKS_MAX];
    char labels[ANA_TICKS_MAX][48];
    double label_w, units_w;
    int width, height;
} panel_layout;

static void panel_measure(cairo_t *cr, const panel_desc *p, panel_layout *L)
{
    double k = (double)p->h / 512.0;
    if (k < 0.75)
        k = 0.75;
    L->k = k;
    L->pad = (int)lround(20 * k);
    L->head = (int)lround(84 * k);
    L->bar_gap = (int)lround(26 * k);
    L->bar_w = (int)lround(22 * k);
    L->bar_h = (int)lround(p->h * 0.78);
    if (L->bar_h < 2)
        L->bar_h = 2;
    L->tick_len = (int)lround(7 * k);
    L->label_gap = (int)lround(5 * k);
    L->foot = (int)lround(36 * k);
    L->ticks_n = nice_ticks(p->lo, p->hi, L->ticks, ANA_TICKS_MAX, &L->decimals);
    set_font(cr, 15 * k, 0);
    L->label_w = 0;
    for (int i = 0; i < L->ticks_n; i++) {
        format_number(L->ticks[i], L->decimals, L->labels[i], sizeof L->labels[i]);
        double tw = text_width(cr, L->labels[i]);
        if (tw > L->label_w)
            L->label_w = tw;
    }
    set_font(cr, 14 * k, 0);
    L->units_w = text_width(cr, p->units);
    double right = L->bar_w + L->tick_len + L->label_gap + L->label_w;
    if (L->units_w > right)
        right = L->units_w;
    /* Captions are centred over the render; one wider than the render (a narrow face panel's
     * data line) widens the panel by an inset on both sides, so no caption is clipped at the
     * figure's edge or runs into its neighbour. */
    char line[ANA_DATA_LINE_MAX];
    double caption_w = 0;
    set_font(cr, 23 * k, 1);
    caption_w = fmax(caption_w, text_width(cr, p->title));
    set_font(cr, 15 * k, 0);
    caption_w = fmax(caption_w, text_width(cr, p->subtitle));
    if (data_line(p, line, sizeof line)) {
        set_font(cr, 14 * k, 0);
        caption_w = fmax(caption_w, text_width(cr, line));
    }
    L->inset = caption_w > p->w ? (int)ceil((caption_w - p->w) / 2.0) : 0;
    double right_of_render = L->bar_gap + ceil(right);
    if (L->inset > right_of_render)
        right_of_render = L->inset;
    L->width = L->pad + L->inset + p->w + (int)right_of_render + L->pad;
    L->height = L->head + p->h + L->foot;
}

static void panel_draw(cairo_t *cr, const panel_desc *p, const panel_layout *L, int x0,
                       ana_panel_info *info)
{
    const double k = L->k;
    const int rx = x0 + L->pad + L->inset, ry = L->head;

    /* Title and subtitle, centred over the render. */
    cairo_set_source_rgb(cr, INK, INK, INK);
    set_font(cr, 23 * k, 1);
    draw_text(cr, rx + (p->w - text_width(cr, p->title)) / 2.0, 36 * k, p->title);
    set_font(cr, 15 * k, 0);
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
    draw_text(cr, rx + (p->w - text_width(cr, p->subtitle)) / 2.0, 62 * k, p->subtitle);

    /* The render, 1:1. */
    cairo_surface_t *render = surface_from_rgb(p->rgb, p->w, p->h);
    if (cairo_surface_status(render) == CAIRO_STATUS_SUCCESS)
        blit(cr, render, rx, ry, p->w, p->h);
    cairo_surface_destroy(render);

    /* The data's range under the render: the bar's range may be fixed, the data's is not. */
    char line[ANA_DATA_LINE_MAX];
    if (data_line(p, line, sizeof line)) {
        set_font(cr, 14 * k, 0);
        cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
        draw_text(cr, rx + (p->w - text_width(cr, line)) / 2.0, ry + p->h + 24 * k, line);
    }

    /* The colour bar: row r shows position (bar_h - 1 - r) / (bar_h - 1), top = hi. */
    const int bx = rx + p->w + L->bar_gap, bw = L->bar_w, bh = L->bar_h;
    const int by = ry + (p->h - bh) / 2;
    int tick_row[ANA_TICKS_MAX];
    for (int i = 0; i < L->ticks_n; i++)
        tick_row[i] =
            (int)lround((double)(p->hi - L->ticks[i]) / (double)(p->hi - p->lo) * (double)(bh - 1));
    uint8_t *bar = md_malloc_array((size_t)bw * (size_t)bh, 3);
    if (bar != NULL) {
        for (int r = 0; r < bh; r++) {
            uint8_t c[3];
            ana_colormap_at(p->map, (float)(bh - 1 - r) / (float)(bh - 1), c);
            for (int i = 0; i < L->ticks_n; i++)
                if (tick_row[i] == r)
                    ana_colormap_value(p->map, p->lo, p->hi, L->ticks[i], c);
            for (int x = 0; x < bw; x++)
                memcpy(bar + ((size_t)r * (size_t)bw + (size_t)x) * 3, c, 3);
        }
        cairo_surface_t *bs = surface_from_rgb(bar, bw, bh);
        if (cairo_surface_status(bs) == CAIRO_STATUS_SUCCESS)
            blit(cr, bs, bx, by, bw, bh);
        cairo_surface_destroy(bs);
        md_free(bar);
    }
    /* Frame one pixel outside the bar, so it covers none of the bar's pixels. */
    cairo_set_source_rgb(cr, INK, INK, INK);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, bx - 0.5, by - 0.5, bw + 1, bh + 1);
    cairo_stroke(cr);

    /* Ticks and numbers to the right, units above. */
    set_font(cr, 15 * k, 0);
    for (int i = 0; i < L->ticks_n; i++) {
        double y = by + tick_row[i] + 0.5;
        cairo_move_to(cr, bx + bw + 1, y);
        cairo_line_to(cr, bx + bw + 1 + L->tick_len, y);
        cairo_stroke(cr);
        cairo_text_extents_t ex;
        cairo_text_extents(cr, L->labels[i], &ex);
        draw_text(cr, bx + bw + 1 + L->tick_len + L->label_gap,
                  y - (ex.y_bearing + ex.height / 2.0), L->labels[i]);
    }
    set_font(cr, 14 * k, 0);
    draw_text(cr, bx, by - 10 * k, p->units);

    if (info != NULL) {
        info->render_x = rx;
        info->render_y = ry;
        info->render_w = p->w;
        info->render_h = p->h;
        info->bar_x = bx;
        info->bar_y = by;
        info->bar_w = bw;
        info->bar_h = bh;
        info->lo = p->lo;
        info->hi = p->hi;
        info->tick_count = L->ticks_n;
        for (int i = 0; i < L->ticks_n; i++) {
            info->tick_value[i] = L->ticks[i];
            info->tick_y[i] = by + tick_row[i];
        }
    }
}

/* ---- PNG output ---- */

/* zlib level of the figures. cairo's own PNG writer (libpng's adaptive filters at level 6) spent
 * 110-330 ms on a figure, more than rendering it; img_encode_png (fixed Up filter, DESIGN.md §8)
 * at level 1 takes 15-35 ms on the ICT figures, and the noisy UV maps even come out smaller. */
#define FIGURE_PNG_LEVEL 1

/* The figure's RGB24 pixels as RGB8, encoded by the mesh module's PNG writer. */
static int encode_png(cairo_surface_t *fig, uint8_t **png, size_t *png_len, md_error *err)
{
    const int w = cairo_image_surface_get_width(fig), h = cairo_image_surface_get_height(fig);
    const int stride = cairo_image_surface_get_stride(fig);
    const unsigned char *data = cairo_image_surface_get_data(fig);
    uint8_t *rgb = md_malloc_array((size_t)w * (size_t)h, 3);
    if (rgb == NULL || data == NULL) {
        md_free(rgb);
        return md_fail(err, MD_ENOMEM, "figure: %dx%d image", w, h);
    }
    for (int y = 0; y < h; y++) {
        const uint32_t *row = (const uint32_t *)(const void *)(data + (size_t)y * (size_t)stride);
        uint8_t *o = rgb + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < w; x++) {
            o[3 * x] = (uint8_t)(row[x] >> 16);
            o[3 * x + 1] = (uint8_t)(row[x] >> 8);
            o[3 * x + 2] = (uint8_t)row[x];
        }
    }
    int rc = img_encode_png(rgb, w, h, 3, FIGURE_PNG_LEVEL, png, png_len, err);
    md_free(rgb);
    return rc;
}

/* Lays out and draws n panels side by side on white, encodes the PNG. */
static int compose(const panel_desc *panels, int n, uint8_t **png, size_t *png_len,
                   ana_figure_info *info, md_error *err)
{
    double t0 = md_now();
    int rc = 0;
    panel_layout L[3];
    cairo_surface_t *probe = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
    cairo_t *pc = cairo_create(probe);
    int width = 0, height = 0;
    for (int i = 0; i < n; i++) {
        panel_measure(pc, &panels[i], &L[i]);
        width += L[i].width;
        if (L[i].height > height)
            height = L[i].height;
    }
    cairo_destroy(pc);
    cairo_surface_destroy(probe);

    cairo_surface_t *fig = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t *cr = cairo_create(fig);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        rc = md_fail(err, MD_ENOMEM, "figure: %dx%d surface: %s", width, height,
                     cairo_status_to_string(cairo_status(cr)));
        goto done;
    }
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    int x = 0;
    for (int i = 0; i < n; i++) {
        panel_draw(cr, &panels[i], &L[i], x, info != NULL ? &info->panel[i] : NULL);
        x += L[i].width;
    }
    cairo_surface_flush(fig);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        rc = md_fail(err, MD_EINTERNAL, "figure: drawing failed: %s",
                     cairo_status_to_string(cairo_status(cr)));
        goto done;
    }
    double t1 = md_now();
    rc = encode_png(fig, png, png_len, err);
    if (rc != 0)
        goto done;
    if (info != NULL) {
        info->width = width;
        info->height = height;
        info->panel_count = n;
        info->draw_s = t1 - t0;
        info->encode_s = md_now() - t1;
    }
done:
    cairo_destroy(cr);
    cairo_surface_destroy(fig);
    return rc;
}

/* The finite min and max of values where mask is nonzero; 0 when there is none. */
static int data_range(const float *v, const uint8_t *mask, size_t n, float *mn, float *mx)
{
    return ana_finite_range(v, mask, n, mn, mx);
}

/* ---- Mesh figures ---- */

/* The job's camera zoomed onto mesh a: the same eye, target and up, with the field of view (or
 * the orthographic height) narrowed until a's vertices just fit, with a 4% margin. That is a
 * centred crop of the frames' view rendered at full resolution: the perspective is the frames'
 * own, but the face fills the panel instead of the frame's share of it. Never widens. */
static void zoom_camera(const mesh *a, const eng_camera *cam, float aspect, eng_camera *out,
                        double *width_share)
{
    *out = *cam;
    *width_share = 1.0;
    double f[3], s[3], u[3];
    for (int k = 0; k < 3; k++)
        f[k] = (double)cam->target[k] - (double)cam->eye[k];
    double fl = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
    if (!(fl > 0))
        return;
    for (int k = 0; k < 3; k++)
        f[k] /= fl;
    s[0] = f[1] * cam->up[2] - f[2] * cam->up[1];
    s[1] = f[2] * cam->up[0] - f[0] * cam->up[2];
    s[2] = f[0] * cam->up[1] - f[1] * cam->up[0];
    double sl = sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]);
    if (!(sl > 0))
        return;
    for (int k = 0; k < 3; k++)
        s[k] /= sl;
    u[0] = s[1] * f[2] - s[2] * f[1];
    u[1] = s[2] * f[0] - s[0] * f[2];
    u[2] = s[0] * f[1] - s[1] * f[0];
    const float *p = mesh_positions(a);
    double need = 0, need_x = 0; /* tan(half fov) or half height the mesh needs, vertically;
                                    and horizontally, in the same units */
    for (uint32_t i = 0; i < mesh_vertex_count(a); i++) {
        double d[3] = {p[3 * i] - (double)cam->eye[0], p[3 * i + 1] - (double)cam->eye[1],
                       p[3 * i + 2] - (double)cam->eye[2]};
        double x = d[0] * s[0] + d[1] * s[1] + d[2] * s[2];
        double y = d[0] * u[0] + d[1] * u[1] + d[2] * u[2];
        double z = d[0] * f[0] + d[1] * f[1] + d[2] * f[2];
        if (!cam->orthographic) {
            if (!(z > 0))
                return; /* a vertex beside or behind the eye: keep the job's framing */
            x /= z;
            y /= z;
        }
        if (fabs(y) > need)
            need = fabs(y);
        if (fabs(x) > need_x)
            need_x = fabs(x);
    }
    /* A tall mesh (a face) in a wide view: narrow the panel to the mesh rather than leave white
     * on both sides. A wide mesh keeps the width and fits through the height. */
    if (need_x / aspect > need)
        need = need_x / aspect;
    else if (need > 0)
        *width_share = need_x / aspect / need * 1.04 + 0.04;
    if (*width_share > 1.0)
        *width_share = 1.0;
    need *= 1.04;
    /* Only ever narrower than the job's view; otherwise the job's framing, full width. */
    if (cam->orthographic && 2 * need < cam->ortho_height && need > 0) {
        out->ortho_height = (float)(2 * need);
    } else if (!cam->orthographic && need > 0 && isfinite(need) &&
               2.0 * atan(need) * 180.0 / 3.14159265358979323846 < cam->fov_y_deg) {
        out->fov_y_deg = (float)(2.0 * atan(need) * 180.0 / 3.14159265358979323846);
    } else {
        *width_share = 1.0;
    }
}

static int figure_on_mesh(struct eng *e, const mesh *a, const ana_figure_opts *opts,
                          panel_desc *panels, ana_field *fields, uint8_t **png, size_t *png_len,
                          ana_figure_info *info, md_error *err)
{
    if (opts == NULL || opts->camera == NULL)
        return md_fail(err, MD_EINVAL, "figure: needs the job's camera");
    int w = opts->render_width > 0 ? opts->render_width : 512;
    const int h = opts->render_height > 0 ? opts->render_height : 512;
    eng_camera cam = *opts->camera;
    if (!opts->keep_framing) {
        double share;
        zoom_camera(a, opts->camera, (float)w / (float)h, &cam, &share);
        int nw = (int)ceil(w * share);
        w = nw < h / 4 ? (h / 4 > 0 ? h / 4 : 1) : nw;
    }
    int rc = 0;
    uint8_t *buf = md_malloc_array((size_t)w * (size_t)h * 3, 3);
    if (buf == NULL)
        return md_fail(err, MD_ENOMEM, "figure: three %dx%d renders", w, h);
    uint8_t *rgb[3] = {buf, buf + (size_t)w * h * 3, buf + (size_t)w * h * 6};
    double t0 = md_now();
    rc = ana_render_fields(e, a, &cam, w, h, opts->samples, fields, 3, rgb, err);
    double render_s = md_now() - t0;
    if (rc == 0) {
        for (int i = 0; i < 3; i++) {
            panels[i].rgb = rgb[i];
            panels[i].w = w;
            panels[i].h = h;
        }
        rc = compose(panels, 3, png, png_len, info, err);
    }
    if (info != NULL)
        info->render_s = render_s;
    md_free(buf);
    return rc;
}

int ana_figure_shape(struct eng *e, const mesh *a, const ana_figure_opts *opts, const float *normal,
                     const float *tangential, const float *total, uint8_t **png, size_t *png_len,
                     ana_figure_info *info, md_error *err)
{
    *png = NULL;
    *png_len = 0;
    if (a == NULL || normal == NULL || tangential == NULL || total == NULL)
        return md_fail(err, MD_EINVAL, "shape figure: missing mesh or displacements");
    const size_t n = mesh_vertex_count(a);
    const char *units = opts != NULL && opts->units != NULL ? opts->units : "mesh units";
    const ana_scale *scale = opts != NULL ? opts->shape_scale : NULL;
    const float *vals[3] = {normal, tangential, total};
    panel_desc panels[3] = {
        {"Normal displacement", "signed: + outward along A's normal", units, ANA_COLORMAP_DIVERGING,
         0, 0, NULL, 0, 0, 0, 0, 0},
        {"Tangential displacement", "magnitude within A's tangent plane", units,
         ANA_COLORMAP_VIRIDIS, 0, 0, NULL, 0, 0, 0, 0, 0},
        {"Total displacement", "magnitude |B − A|", units, ANA_COLORMAP_VIRIDIS, 0, 0, NULL, 0, 0,
         0, 0, 0},
    };
    ana_field fields[3];
    memset(fields, 0, sizeof fields);
    for (int i = 0; i < 3; i++) {
        ana_scale_range(scale, i == 0, vals[i], NULL, n, &panels[i].lo, &panels[i].hi);
        panels[i].has_data = data_range(vals[i], NULL, n, &panels[i].data_min, &panels[i].data_max);
        fields[i].vertex_values = vals[i];
        fields[i].map = panels[i].map;
        fields[i].lo = panels[i].lo;
        fields[i].hi = panels[i].hi;
    }
    return figure_on_mesh(e, a, opts, panels, fields, png, png_len, info, err);
}

static const char *const uv_titles[3][3] = {
    /* title, subtitle, units (UTF-8) */
    {"Luminance difference ΔL*", "signed: + where B is lighter", "L* units"},
    {"Chroma difference Δab", "√(Δa*² + Δb*²)", "a*b* units"},
    {"Colour difference ΔE₀₀", "CIEDE2000", "ΔE₀₀ units"},
};

/* The texel maps a mesh panel needs. Each panel pixel is 2x2 samples bilinearly reading the
 * colour texture; the UV layout spans the whole texture while the panel shows the face at
 * most render-side pixels across, so the texture needs about 2 texels per render pixel over
 * the whole atlas and anything finer only aliases. The ICT skin maps are 2048^2 and the
 * panels 512 high: 1024^2 keeps two texels per panel pixel, and makes the nearest-covered
 * padding and the colouring four times cheaper. The largest power of two that keeps
 * side / f >= 2 * render side (f = 1 for a 1024 render); the colour-bar ranges and the data's
 * range are still taken over the full-resolution maps (and the UV-map figures and CSVs use
 * those). */
static int texel_reduction(int width, int height, int render_side)
{
    int f = 1;
    while (f < 64 && width % (2 * f) == 0 && height % (2 * f) == 0 &&
           width / (2 * f) >= 2 * render_side && height / (2 * f) >= 2 * render_side)
        f *= 2;
    return f;
}

/* Box-filters a width x height map by f (a power of two dividing both sides): a reduced texel is
 * covered when any of its f x f texels is, and holds the mean of the covered ones' finite values
 * (NaN when none is finite). One reduced row at a time: its sums and counts stay in cache and
 * each texel's sum is still taken row by row, left to right, so the same bits as summing over
 * the whole map at once. *cov and the three reduced maps are md_malloc'd into out_vals[3]. */
static int reduce_maps(const float *const vals[3], const uint8_t *coverage, int width, int height,
                       int f, uint8_t **cov_out, float *out_vals[3], md_error *err)
{
    const int rw = width / f, rh = height / f;
    const size_t rn = (size_t)rw * (size_t)rh;
    int shift = 0;
    while ((1 << shift) < f)
        shift++;
    uint8_t *cov = md_malloc(rn);
    float *sum = md_malloc_array((size_t)rw * 3, sizeof(float));
    uint16_t *count = md_malloc_array((size_t)rw * 3, sizeof(uint16_t));
    for (int c = 0; c < 3; c++)
        out_vals[c] = md_malloc_array(rn, sizeof(float));
    if (cov == NULL || sum == NULL || count == NULL || out_vals[0] == NULL || out_vals[1] == NULL ||
        out_vals[2] == NULL) {
        md_free(cov);
        md_free(sum);
        md_free(count);
        for (int c = 0; c < 3; c++) {
            md_free(out_vals[c]);
            out_vals[c] = NULL;
        }
        return md_fail(err, MD_ENOMEM, "texture figure: %dx%d maps", rw, rh);
    }
    for (int ry = 0; ry < rh; ry++) {
        uint8_t *crow = cov + (size_t)ry * (size_t)rw;
        memset(crow, 0, (size_t)rw);
        memset(sum, 0, (size_t)rw * 3 * sizeof(float));
        memset(count, 0, (size_t)rw * 3 * sizeof(uint16_t));
        for (int y = ry * f; y < (ry + 1) * f; y++) {
            const size_t row = (size_t)y * (size_t)width;
            const uint8_t *mrow = coverage != NULL ? coverage + row : NULL;
            const float *v0 = vals[0] + row, *v1 = vals[1] + row, *v2 = vals[2] + row;
            for (int x = 0; x < width; x++) {
                if (mrow != NULL && mrow[x] == 0)
                    continue;
                const int r = x >> shift;
                crow[r] = 1;
                const float v[3] = {v0[x], v1[x], v2[x]};
                for (int c = 0; c < 3; c++)
                    if (isfinite(v[c])) {
                        sum[3 * r + c] += v[c];
                        count[3 * r + c]++;
                    }
            }
        }
        for (int c = 0; c < 3; c++) {
            float *o = out_vals[c] + (size_t)ry * (size_t)rw;
            for (int r = 0; r < rw; r++)
                o[r] = count[3 * r + c] ? sum[3 * r + c] / (float)count[3 * r + c] : NAN;
        }
    }
    md_free(sum);
    md_free(count);
    *cov_out = cov;
    return 0;
}

int ana_figure_texture(struct eng *e, const mesh *a, const ana_figure_opts *opts, uint32_t material,
                       int width, int height, const uint8_t *coverage, const float *luminance,
                       const float *chroma, const float *delta_e, uint8_t **png, size_t *png_len,
                       ana_figure_info *info, md_error *err)
{
    *png = NULL;
    *png_len = 0;
    if (a == NULL || luminance == NULL || chroma == NULL || delta_e == NULL || width < 1 ||
        height < 1)
        return md_fail(err, MD_EINVAL, "texture figure: missing mesh or maps");
    const size_t n = (size_t)width * (size_t)height;
    const float *vals[3] = {luminance, chroma, delta_e};
    const ana_scale *scale = opts != NULL ? opts->texture_scale : NULL;
    panel_desc panels[3];
    ana_field fields[3];
    img *tex[3] = {NULL, NULL, NULL};
    memset(panels, 0, sizeof panels);
    memset(fields, 0, sizeof fields);
    uint32_t *nearest = NULL;
    uint8_t *rcov = NULL;
    float *rvals[3] = {NULL, NULL, NULL};
    double t0 = md_now();
    const int render_side = opts != NULL && opts->render_height > 0 ? opts->render_height : 512;
    const int rw_side = opts != NULL && opts->render_width > 0 ? opts->render_width : 512;
    const int f = texel_reduction(width, height, render_side > rw_side ? render_side : rw_side);
    const float *tvals[3] = {luminance, chroma, delta_e};
    const uint8_t *tcov = coverage;
    int tw = width, th = height;
    int rc = 0;
    if (f > 1) {
        rc = reduce_maps(vals, coverage, width, height, f, &rcov, rvals, err);
        if (rc != 0)
            goto done;
        for (int i = 0; i < 3; i++)
            tvals[i] = rvals[i];
        tcov = rcov;
        tw = width / f;
        th = height / f;
    }
    rc = tcov != NULL ? ana_texel_nearest(tcov, tw, th, &nearest, err) : 0;
    if (rc != 0)
        goto done;
    for (int i = 0; i < 3; i++) {
        panels[i].title = uv_titles[i][0];
        panels[i].subtitle = uv_titles[i][1];
        panels[i].units = uv_titles[i][2];
        panels[i].map = i == 0 ? ANA_COLORMAP_DIVERGING : ANA_COLORMAP_VIRIDIS;
        /* One scan: the colour bar's range follows from the data's. */
        panels[i].has_data =
            data_range(vals[i], coverage, n, &panels[i].data_min, &panels[i].data_max);
        ana_scale_range_of(scale, i == 0, panels[i].has_data, panels[i].data_min,
                           panels[i].data_max, &panels[i].lo, &panels[i].hi);
        rc = ana_texel_colorize(tvals[i], tcov, tw, th, panels[i].map, panels[i].lo, panels[i].hi,
                                nearest, &tex[i], err);
        if (rc != 0)
            goto done;
        fields[i].texture = tex[i];
        fields[i].material = material;
    }
    double colorize_s = md_now() - t0;
    rc = figure_on_mesh(e, a, opts, panels, fields, png, png_len, info, err);
    if (info != NULL)
        info->render_s += colorize_s;
done:
    for (int i = 0; i < 3; i++) {
        img_free(tex[i]);
        md_free(rvals[i]);
    }
    md_free(rcov);
    md_free(nearest);
    return rc;
}

/* ---- UV-space maps ---- */

const char *ana_uv_component_file(ana_uv_component c)
{
    switch (c) {
    case ANA_UV_LUMINANCE:
        return "texture_difference_uv_luminance.png";
    case ANA_UV_CHROMA:
        return "texture_difference_uv_chroma.png";
    case ANA_UV_DELTA_E:
        return "texture_difference_uv_delta_e.png";
    }
    return "texture_difference_uv_unknown.png";
}

int ana_figure_uv_map(ana_uv_component c, int width, int height, const uint8_t *coverage,
                      const float *values, const ana_scale *scale, int max_side, uint8_t **png,
                      size_t *png_len, ana_figure_info *info, md_error *err)
{
    *png = NULL;
    *png_len = 0;
    if (values == NULL || width < 1 || height < 1 || (int)c < 0 || (int)c > 2)
        return md_fail(err, MD_EINVAL, "UV map figure: missing map or bad component");
    const size_t n = (size_t)width * (size_t)height;
    panel_desc p;
    memset(&p, 0, sizeof p);
    p.title = uv_titles[c][0];
    p.subtitle = "A's texture space; grey: not covered by the UV layout";
    p.units = uv_titles[c][2];
    p.map = c == ANA_UV_LUMINANCE ? ANA_COLORMAP_DIVERGING : ANA_COLORMAP_VIRIDIS;
    p.has_data = data_range(values, coverage, n, &p.data_min, &p.data_max);
    ana_scale_range_of(scale, c == ANA_UV_LUMINANCE, p.has_data, p.data_min, p.data_max, &p.lo,
                       &p.hi);

    /* Nearest texel, never enlarged: every pixel is one texel's colour-map colour. */
    double t0 = md_now();
    int side = max_side > 0 ? max_side : 1024;
    double s = fmin(1.0, (double)side / (double)(width > height ? width : height));
    int ow = (int)lround(width * s), oh = (int)lround(height * s);
    ow = ow < 1 ? 1 : ow;
    oh = oh < 1 ? 1 : oh;
    uint8_t *rgb = md_malloc_array((size_t)ow * (size_t)oh, 3);
    size_t *cols = md_malloc_array((size_t)ow, sizeof *cols);
    float *row_v = md_malloc_array((size_t)ow, sizeof *row_v);
    uint8_t *row_m = md_malloc((size_t)ow);
    if (rgb == NULL || cols == NULL || row_v == NULL || row_m == NULL) {
        md_free(rgb);
        md_free(cols);
        md_free(row_v);
        md_free(row_m);
        return md_fail(err, MD_ENOMEM, "UV map figure: %dx%d image", ow, oh);
    }
    for (int x = 0; x < ow; x++)
        cols[x] = (size_t)(((double)x + 0.5) * width / ow);
    for (int y = 0; y < oh; y++) {
        size_t ty = (size_t)(((double)y + 0.5) * height / oh);
        const float *vrow = values + ty * (size_t)width;
        const uint8_t *mrow = coverage != NULL ? coverage + ty * (size_t)width : NULL;
        for (int x = 0; x < ow; x++) {
            row_v[x] = vrow[cols[x]];
            row_m[x] = mrow != NULL ? mrow[cols[x]] : 1;
        }
        ana_colormap_values(p.map, p.lo, p.hi, row_v, 1, row_m, (size_t)ow,
                            rgb + (size_t)y * (size_t)ow * 3);
    }
    md_free(cols);
    md_free(row_v);
    md_free(row_m);
    p.rgb = rgb;
    p.w = ow;
    p.h = oh;
    double map_s = md_now() - t0;
    int rc = compose(&p, 1, png, png_len, info, err);
    if (info != NULL)
        info->render_s = map_s;
    md_free(rgb);
    return rc;
}
