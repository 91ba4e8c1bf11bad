/*
 * camera.c — cameras of the engine: defaults, auto-framing on a bounding box, near/far fitting,
 * the "eye=...;fov=..." text form, validation, and the view-projection matrix every engine uses.
 *
 * Called by the job layer and the CLI (parse, frame, validate) and by the engines (view_proj),
 * from any thread: every function is pure on the camera it is given.
 *
 * Conventions: right-handed world, OpenGL lookAt and projection (clip z in [-w, w], the camera
 * looks down its -Z), column-major matrices. The matrix is built in double and stored as float,
 * so CPU and CUDA engines share it bit for bit (both take it from eng_camera_view_proj).
 */
#include "gpu/kernels.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PI 3.14159265358979323846

/* ---- Defaults and framing ---- */

void eng_camera_default(eng_camera *cam)
{
    memset(cam, 0, sizeof *cam);
    cam->eye[2] = 1.0f;
    cam->up[1] = 1.0f;
    cam->fov_y_deg = 30.0f;
    cam->orthographic = 0;
    /* The height a 30 degree perspective sees at the target, so switching to orthographic
     * keeps the picture's scale. */
    cam->ortho_height = (float)(2.0 * tan(15.0 * PI / 180.0));
    cam->z_near = 0.01f;
    cam->z_far = 100.0f;
}

/* Centre and radius (half the diagonal; 1 when that is 0 or not finite) of a box. */
static void box_sphere(const float min[3], const float max[3], double center[3], double *radius)
{
    double d2 = 0;
    for (int k = 0; k < 3; k++) {
        center[k] = 0.5 * ((double)min[k] + (double)max[k]);
        double d = (double)max[k] - (double)min[k];
        d2 += d * d;
    }
    double r = 0.5 * sqrt(d2);
    *radius = (r > 0 && isfinite(r)) ? r : 1.0;
}

void eng_camera_fit_clip(eng_camera *cam, const float min[3], const float max[3])
{
    double c[3], r;
    box_sphere(min, max, c, &r);
    double f[3], to_c[3], fl = 0, cl = 0;
    for (int k = 0; k < 3; k++) {
        f[k] = (double)cam->target[k] - (double)cam->eye[k];
        to_c[k] = c[k] - (double)cam->eye[k];
        fl += f[k] * f[k];
        cl += to_c[k] * to_c[k];
    }
    /* Distance of the centre along the view direction (straight-line distance when the camera
     * has no direction; validation rejects such a camera anyway). */
    double dist;
    if (fl > 0) {
        fl = sqrt(fl);
        dist = (to_c[0] * f[0] + to_c[1] * f[1] + to_c[2] * f[2]) / fl;
    } else {
        dist = sqrt(cl);
    }
    /* 1.5 r leaves room for the sphere plus float error; the floors keep near positive and the
     * near/far ratio bounded when the eye is inside the sphere; both floors scale with the
     * scene, so any unit works. */
    double z_near = dist - 1.5 * r;
    z_near = fmax(z_near, dist * 1e-4);
    z_near = fmax(z_near, r * 1e-6);
    double z_far = dist + 1.5 * r;
    if (!(z_far > z_near * (1.0 + 1e-3)))
        z_far = z_near + 3.0 * r; /* the sphere is behind the eye; keep near < far */
    cam->z_near = (float)z_near;
    cam->z_far = (float)z_far;
}

void eng_camera_frame_bounds(eng_camera *cam, const float min[3], const float max[3], float aspect)
{
    double c[3], r;
    box_sphere(min, max, c, &r);
    double a = (aspect > 0 && isfinite(aspect)) ? (double)aspect : 1.0;
    double back;
    if (cam->orthographic) {
        cam->ortho_height = (float)(2.0 * r * 1.05 / fmin(1.0, a));
        back = 3.0 * r;
    } else {
        double fovy = (double)cam->fov_y_deg * PI / 180.0;
        if (!(fovy > 0 && fovy < PI))
            fovy = 30.0 * PI / 180.0; /* validation reports the bad fov; frame sensibly anyway */
        double fovx = 2.0 * atan(tan(fovy / 2.0) * a);
        back = r / sin(fmin(fovy, fovx) / 2.0) * 1.05;
    }
    for (int k = 0; k < 3; k++) {
        cam->target[k] = (float)c[k];
        cam->eye[k] = (float)c[k];
        cam->up[k] = 0.0f;
    }
    cam->eye[2] = (float)(c[2] + back);
    cam->up[1] = 1.0f;
    eng_camera_fit_clip(cam, min, max);
}

/* ---- View and projection ---- */

void eng_camera_view_proj(const eng_camera *cam, float aspect, float out[16])
{
    double eye[3], f[3], up[3], s[3], u[3];
    for (int k = 0; k < 3; k++) {
        eye[k] = cam->eye[k];
        f[k] = (double)cam->target[k] - eye[k];
        up[k] = cam->up[k];
    }
    double fl = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
    fl = fl > 0 ? fl : 1.0;
    for (int k = 0; k < 3; k++)
        f[k] /= fl;
    s[0] = f[1] * up[2] - f[2] * up[1];
    s[1] = f[2] * up[0] - f[0] * up[2];
    s[2] = f[0] * up[1] - f[1] * up[0];
    double sl = sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]);
    sl = sl > 0 ? sl : 1.0;
    for (int k = 0; k < 3; k++)
        s[k] /= sl;
    u[0] = s[1] * f[2] - s[2] * f[1];
    u[1] = s[2] * f[0] - s[0] * f[2];
    u[2] = s[0] * f[1] - s[1] * f[0];

    /* View matrix rows: s, u, -f, with translation -R * eye. */
    double view[4][4] = {
        {s[0], s[1], s[2], -(s[0] * eye[0] + s[1] * eye[1] + s[2] * eye[2])},
        {u[0], u[1], u[2], -(u[0] * eye[0] + u[1] * eye[1] + u[2] * eye[2])},
        {-f[0], -f[1], -f[2], f[0] * eye[0] + f[1] * eye[1] + f[2] * eye[2]},
        {0, 0, 0, 1},
    };

    double a = (aspect > 0 && isfinite(aspect)) ? (double)aspect : 1.0;
    double n = cam->z_near, fa = cam->z_far;
    double proj[4][4] = {{0}};
    if (cam->orthographic) {
        double h = cam->ortho_height, w = h * a;
        proj[0][0] = 2.0 / w;
        proj[1][1] = 2.0 / h;
        proj[2][2] = -2.0 / (fa - n);
        proj[2][3] = -(fa + n) / (fa - n);
        proj[3][3] = 1.0;
    } else {
        double fy = 1.0 / tan((double)cam->fov_y_deg * PI / 360.0);
        proj[0][0] = fy / a;
        proj[1][1] = fy;
        proj[2][2] = (fa + n) / (n - fa);
        proj[2][3] = 2.0 * fa * n / (n - fa);
        proj[3][2] = -1.0;
    }

    for (int r = 0; r < 4; r++) {
        for (int c = 0; c < 4; c++) {
            double acc = 0;
            for (int k = 0; k < 4; k++)
                acc += proj[r][k] * view[k][c];
            out[c * 4 + r] = (float)acc;
        }
    }
}

/* ---- Validation ---- */

static int finite3(const float v[3])
{
    return isfinite(v[0]) && isfinite(v[1]) && isfinite(v[2]);
}

int eng_camera_validate(const eng_camera *cam, md_error *err)
{
    if (cam == NULL)
        return md_fail(err, MD_EINVAL, "camera: missing");
    const char *names[3] = {"eye", "target", "up"};
    const float *vecs[3] = {cam->eye, cam->target, cam->up};
    for (int i = 0; i < 3; i++) {
        if (!finite3(vecs[i]))
            return md_fail(err, MD_EINVAL, "camera: %s (%g, %g, %g) is not finite", names[i],
                           (double)vecs[i][0], (double)vecs[i][1], (double)vecs[i][2]);
    }
    double f[3], fl = 0, el = 0, tl = 0, ul = 0;
    for (int k = 0; k < 3; k++) {
        f[k] = (double)cam->target[k] - (double)cam->eye[k];
        fl += f[k] * f[k];
        el += (double)cam->eye[k] * cam->eye[k];
        tl += (double)cam->target[k] * cam->target[k];
        ul += (double)cam->up[k] * cam->up[k];
    }
    fl = sqrt(fl);
    /* Closer than float resolution at that distance from the origin counts as the same point. */
    if (!(fl > 1e-6 * fmax(sqrt(el), sqrt(tl))) || fl == 0)
        return md_fail(err, MD_EINVAL,
                       "camera: eye and target are the same point (%g, %g, %g); the camera needs "
                       "a direction to look in",
                       (double)cam->eye[0], (double)cam->eye[1], (double)cam->eye[2]);
    ul = sqrt(ul);
    if (!(ul > 0))
        return md_fail(err, MD_EINVAL, "camera: up is (0, 0, 0); it needs a direction");
    double cx = f[1] * cam->up[2] - f[2] * cam->up[1];
    double cy = f[2] * cam->up[0] - f[0] * cam->up[2];
    double cz = f[0] * cam->up[1] - f[1] * cam->up[0];
    if (!(sqrt(cx * cx + cy * cy + cz * cz) > 1e-6 * fl * ul))
        return md_fail(err, MD_EINVAL,
                       "camera: up (%g, %g, %g) is parallel to the view direction (%g, %g, %g); "
                       "pick an up vector across it",
                       (double)cam->up[0], (double)cam->up[1], (double)cam->up[2], f[0] / fl,
                       f[1] / fl, f[2] / fl);
    if (cam->orthographic) {
        if (!(cam->ortho_height > 0) || !isfinite(cam->ortho_height))
            return md_fail(err, MD_EINVAL, "camera: ortho height %g must be a positive number",
                           (double)cam->ortho_height);
    } else if (!(cam->fov_y_deg > 0 && cam->fov_y_deg < 180)) {
        return md_fail(err, MD_EINVAL,
                       "camera: fov %g must be between 0 and 180 degrees (exclusive)",
                       (double)cam->fov_y_deg);
    }
    if (!(cam->z_near > 0 && cam->z_near < cam->z_far) || !isfinite(cam->z_far))
        return md_fail(err, MD_EINVAL, "camera: near %g and far %g must satisfy 0 < near < far",
                       (double)cam->z_near, (double)cam->z_far);
    return 0;
}

/* ---- Parsing "key=value;..." ---- */

#define VALID_KEYS "eye, target, up, fov, near, far, ortho"

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Parses exactly `want` comma-separated finite numbers; returns 0 or -1. */
static int parse_numbers(const char *s, float *out, int want)
{
    const char *q = s;
    for (int i = 0; i < want; i++) {
        while (isspace((unsigned char)*q))
            q++;
        if (*q == '\0' || *q == ',')
            return -1;
        char *end;
        errno = 0;
        double d = strtod(q, &end);
        if (end == q || errno == ERANGE || !isfinite(d) || !isfinite((float)d))
            return -1;
        out[i] = (float)d;
        q = end;
        while (isspace((unsigned char)*q))
            q++;
        if (i + 1 < want) {
            if (*q != ',')
                return -1;
            q++;
        }
    }
    return *q == '\0' ? 0 : -1;
}

static int parse_entry(char *entry, eng_camera *cam, int *explicit_eye, md_error *err)
{
    char *eq = strchr(entry, '=');
    if (eq == NULL)
        return md_fail(err, MD_EPARSE,
                       "camera: '%.60s' is not key=value (valid keys: " VALID_KEYS ")", entry);
    *eq = '\0';
    const char *key = trim(entry);
    const char *val = trim(eq + 1);

    static const char *vec_keys[3] = {"eye", "target", "up"};
    float *vec_dst[3] = {cam->eye, cam->target, cam->up};
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(key, vec_keys[i]) != 0)
            continue;
        float v[3];
        if (parse_numbers(val, v, 3) != 0)
            return md_fail(err, MD_EPARSE, "camera: '%s' needs 3 numbers, got '%.60s'", vec_keys[i],
                           val);
        memcpy(vec_dst[i], v, sizeof v);
        if (i == 0)
            *explicit_eye = 1;
        return 0;
    }

    static const char *num_keys[4] = {"fov", "near", "far", "ortho"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(key, num_keys[i]) != 0)
            continue;
        float v;
        if (parse_numbers(val, &v, 1) != 0)
            return md_fail(err, MD_EPARSE, "camera: '%s' needs a number, got '%.60s'", num_keys[i],
                           val);
        switch (i) {
        case 0:
            cam->fov_y_deg = v;
            break;
        case 1:
            cam->z_near = v;
            break;
        case 2:
            cam->z_far = v;
            break;
        default:
            if (v < 0)
                return md_fail(err, MD_EPARSE,
                               "camera: 'ortho' needs a height > 0 (or 0 for perspective), "
                               "got '%.60s'",
                               val);
            cam->orthographic = v > 0;
            if (v > 0)
                cam->ortho_height = v;
            break;
        }
        return 0;
    }
    return md_fail(err, MD_EPARSE, "camera: unknown key '%.40s' (valid keys: " VALID_KEYS ")", key);
}

int eng_camera_parse(const char *spec, eng_camera *cam, int *explicit_eye, md_error *err)
{
    if (spec == NULL || cam == NULL)
        return md_fail(err, MD_EINVAL, "camera: no specification given");
    char *copy = md_strdup(spec);
    if (copy == NULL)
        return md_fail(err, MD_ENOMEM, "camera: out of memory copying the specification");
    /* Parse into a copy so a failed parse leaves the caller's camera as it was. */
    eng_camera tmp = *cam;
    int eye_given = 0;
    int rc = 0;
    char *entry = copy;
    for (;;) {
        char *semi = strchr(entry, ';');
        if (semi != NULL)
            *semi = '\0';
        char *e = trim(entry);
        if (*e != '\0') {
            rc = parse_entry(e, &tmp, &eye_given, err);
            if (rc != 0)
                goto done;
        }
        if (semi == NULL)
            break;
        entry = semi + 1;
    }
    *cam = tmp;
    if (explicit_eye != NULL)
        *explicit_eye = eye_given;
done:
    md_free(copy);
    return rc;
}
