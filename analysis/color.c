/*
 * color.c — colour science for the texture difference: sRGB -> linear -> XYZ -> CIE L*a*b*, and
 * the CIEDE2000 colour difference.
 *
 * Called from any thread. The lookup tables are filled once under pthread_once and read-only
 * afterwards.
 *
 * Conventions: sRGB per IEC 61966-2-1 (linear segment below 0.04045, exponent 2.4); the
 * linear-RGB -> XYZ matrix of the same standard (4 decimals), and as white point that
 * matrix's image of RGB white (0.9505, 1, 1.0890), which is D65 to the matrix's precision and
 * makes sRGB white exactly L* = 100, a* = b* = 0. CIE 1976 L*a*b* with the exact constants
 * (6/29)^3 and 1/(3 (6/29)^2). CIEDE2000 follows Sharma, Wu and Dalal (2005), equations 1-22,
 * with their conventions for hue angles at zero chroma and for the mean hue.
 */
#include "analysis/analysis.h"
#include "analysis/ana_int.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#define PI 3.14159265358979323846

/* ---- sRGB to L*a*b* ---- */

static const double rgb_to_xyz[3][3] = {
    {0.4124, 0.3576, 0.1805},
    {0.2126, 0.7152, 0.0722},
    {0.0193, 0.1192, 0.9505},
};
static const double white[3] = {0.4124 + 0.3576 + 0.1805, 0.2126 + 0.7152 + 0.0722,
                                0.0193 + 0.1192 + 0.9505};

double ana_srgb_to_linear(double c)
{
    return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

/* Cube root for t > 0.0088: a bit-level first guess (within ~5%) and four Newton steps, which
 * square the error each time (5e-2 -> 1e-3 -> 1e-6 -> 1e-12 -> rounding). About five times
 * cheaper than libm's cbrt, and the texture difference takes six per texel. */
static double cbrt_pos(double t)
{
    float tf = (float)t;
    uint32_t u;
    memcpy(&u, &tf, sizeof u);
    u = u / 3u + 709921077u; /* 127 * 2^23 * 2 / 3: exponent divided by three */
    float yf;
    memcpy(&yf, &u, sizeof yf);
    double y = yf;
    for (int i = 0; i < 4; i++)
        y = y - (y * y * y - t) / (3.0 * y * y);
    return y;
}

static double lab_f(double t)
{
    const double eps = (6.0 / 29.0) * (6.0 / 29.0) * (6.0 / 29.0);
    return t > eps ? cbrt_pos(t) : t / (3.0 * (6.0 / 29.0) * (6.0 / 29.0)) + 4.0 / 29.0;
}

void ana_linear_rgb_to_lab(const double rgb[3], double lab[3])
{
    double f[3];
    for (int k = 0; k < 3; k++) {
        double v =
            rgb_to_xyz[k][0] * rgb[0] + rgb_to_xyz[k][1] * rgb[1] + rgb_to_xyz[k][2] * rgb[2];
        f[k] = lab_f(v / white[k]);
    }
    lab[0] = 116.0 * f[1] - 16.0;
    lab[1] = 500.0 * (f[0] - f[1]);
    lab[2] = 200.0 * (f[1] - f[2]);
}

/* byte_linear[b] = linear value of the sRGB byte b; fine_linear[i] = linear value of the
 * encoded value i / ANA_FINE_STEPS, so a byte b sits exactly at index b * 16 and a bilinear
 * blend of bytes interpolates between neighbouring entries (error below 1e-7). */
static double byte_linear[256];
static float fine_linear[ANA_FINE_STEPS + 2];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void tables_fill(void)
{
    for (int i = 0; i < 256; i++)
        byte_linear[i] = ana_srgb_to_linear(i / 255.0);
    for (int i = 0; i <= ANA_FINE_STEPS; i++)
        fine_linear[i] = (float)ana_srgb_to_linear((double)i / ANA_FINE_STEPS);
    fine_linear[ANA_FINE_STEPS + 1] = fine_linear[ANA_FINE_STEPS];
}

void ana_color_tables(const double **bytes, const float **fine)
{
    pthread_once(&tables_once, tables_fill);
    *bytes = byte_linear;
    *fine = fine_linear;
}

void ana_srgb8_to_lab(const uint8_t rgb[3], double lab[3])
{
    pthread_once(&tables_once, tables_fill);
    double lin[3] = {byte_linear[rgb[0]], byte_linear[rgb[1]], byte_linear[rgb[2]]};
    ana_linear_rgb_to_lab(lin, lab);
}

/* ---- CIEDE2000 ---- */

static double deg(double rad)
{
    return rad * (180.0 / PI);
}

static double rad(double degrees)
{
    return degrees * (PI / 180.0);
}

static double pow7(double x)
{
    double x2 = x * x, x3 = x2 * x;
    return x3 * x3 * x;
}

/* (17)-(22) and the result, shared by both paths: c1, s1 are the cosine and sine of the mean
 * hue hbp (degrees). T takes cos and sin of 2h', 3h', 4h' from them by the multiple-angle
 * identities instead of four cosines: the same value to rounding, and the texture difference
 * calls this 4M times. */
static double ciede2000_finish(double dLp, double dCp, double dHp, double Lbp, double Cbp,
                               double hbp, double c1, double s1)
{
    const double pow25_7 = 6103515625.0; /* 25^7 */
    const double c2 = 2.0 * c1 * c1 - 1.0, s2 = 2.0 * s1 * c1;
    const double c3 = c2 * c1 - s2 * s1, s3 = s2 * c1 + c2 * s1;
    const double c4 = 2.0 * c2 * c2 - 1.0, s4 = 2.0 * s2 * c2;
    const double cos30 = 0.86602540378443864676, sin30 = 0.5;
    const double cos6 = 0.99452189536827333692, sin6 = 0.10452846326765347140;
    const double cos63 = 0.45399049973954679156, sin63 = 0.89100652418836786236;
    double T = 1.0 - 0.17 * (c1 * cos30 + s1 * sin30) + 0.24 * c2 + 0.32 * (c3 * cos6 - s3 * sin6) -
               0.20 * (c4 * cos63 + s4 * sin63);
    double dtheta = 30.0 * exp(-((hbp - 275.0) / 25.0) * ((hbp - 275.0) / 25.0));
    double Cbp7 = pow7(Cbp);
    double RC = 2.0 * sqrt(Cbp7 / (Cbp7 + pow25_7));
    double L50 = (Lbp - 50.0) * (Lbp - 50.0);
    double SL = 1.0 + 0.015 * L50 / sqrt(20.0 + L50);
    double SC = 1.0 + 0.045 * Cbp;
    double SH = 1.0 + 0.015 * Cbp * T;
    double RT = -sin(rad(2.0 * dtheta)) * RC;
    double l = dLp / SL, c = dCp / SC, h = dHp / SH;
    double sq = l * l + c * c + h * h + RT * c * h;
    return sq > 0.0 ? sqrt(sq) : 0.0;
}

/* Sharma et al.'s equations as written, through the hue angles; ana_ciede2000's fallback for
 * hues exactly opposite, where the mean hue's direction is not defined by the vectors. */
static double ciede2000_angles(const double lab1[3], const double lab2[3])
{
    const double L1 = lab1[0], a1 = lab1[1], b1 = lab1[2];
    const double L2 = lab2[0], a2 = lab2[1], b2 = lab2[2];
    const double pow25_7 = 6103515625.0; /* 25^7 */

    /* (2)-(7): a' rescaled by G, C', h' in degrees [0, 360), h' = 0 where a' = b' = 0. */
    double C1ab = sqrt(a1 * a1 + b1 * b1), C2ab = sqrt(a2 * a2 + b2 * b2);
    double Cab = 0.5 * (C1ab + C2ab);
    double Cab7 = pow7(Cab);
    double G = 0.5 * (1.0 - sqrt(Cab7 / (Cab7 + pow25_7)));
    double a1p = (1.0 + G) * a1, a2p = (1.0 + G) * a2;
    double C1p = sqrt(a1p * a1p + b1 * b1), C2p = sqrt(a2p * a2p + b2 * b2);
    double h1p = (a1p == 0.0 && b1 == 0.0) ? 0.0 : deg(atan2(b1, a1p));
    double h2p = (a2p == 0.0 && b2 == 0.0) ? 0.0 : deg(atan2(b2, a2p));
    if (h1p < 0.0)
        h1p += 360.0;
    if (h2p < 0.0)
        h2p += 360.0;

    /* (8)-(10) */
    double dLp = L2 - L1, dCp = C2p - C1p, dhp;
    double CpProd = C1p * C2p;
    if (CpProd == 0.0)
        dhp = 0.0;
    else if (h2p - h1p > 180.0)
        dhp = h2p - h1p - 360.0;
    else if (h2p - h1p < -180.0)
        dhp = h2p - h1p + 360.0;
    else
        dhp = h2p - h1p;
    double dHp = 2.0 * sqrt(CpProd) * sin(rad(dhp) / 2.0);

    /* (12)-(22) */
    double Lbp = 0.5 * (L1 + L2), Cbp = 0.5 * (C1p + C2p), hbp;
    if (CpProd == 0.0)
        hbp = h1p + h2p;
    else if (fabs(h1p - h2p) <= 180.0)
        hbp = 0.5 * (h1p + h2p);
    else if (h1p + h2p < 360.0)
        hbp = 0.5 * (h1p + h2p + 360.0);
    else
        hbp = 0.5 * (h1p + h2p - 360.0);
    return ciede2000_finish(dLp, dCp, dHp, Lbp, Cbp, hbp, cos(rad(hbp)), sin(rad(hbp)));
}

/* The same quantities without the hue angles where vectors give them (equal to rounding):
 *  - dH' = 2 sqrt(C1'C2') sin(dh'/2) with dh' in (-180, 180]: its square is 2 (C1'C2' - p)
 *    with p = a1'a2' + b1 b2, written 2 x^2 / (C1'C2' + p) with x = a1' b2 - a2' b1 when
 *    p > 0 (no cancellation for close hues); its sign is the sign of sin dh', that of x.
 *  - the mean hue h' (Sharma's conventions included: the midpoint of the shorter arc, or the
 *    one non-zero-chroma hue) is the direction of the sum of the unit hue vectors, so T takes
 *    cos h' and sin h' from that vector; one atan2 remains, for dtheta.
 * Hues exactly opposite (x = 0, p < 0, or a vanishing sum) take the angle path. */
double ana_ciede2000(const double lab1[3], const double lab2[3])
{
    const double L1 = lab1[0], a1 = lab1[1], b1 = lab1[2];
    const double L2 = lab2[0], a2 = lab2[1], b2 = lab2[2];
    const double pow25_7 = 6103515625.0; /* 25^7 */

    double C1ab = sqrt(a1 * a1 + b1 * b1), C2ab = sqrt(a2 * a2 + b2 * b2);
    double Cab = 0.5 * (C1ab + C2ab);
    double Cab7 = pow7(Cab);
    double G = 0.5 * (1.0 - sqrt(Cab7 / (Cab7 + pow25_7)));
    double a1p = (1.0 + G) * a1, a2p = (1.0 + G) * a2;
    double C1p = sqrt(a1p * a1p + b1 * b1), C2p = sqrt(a2p * a2p + b2 * b2);
    double CpProd = C1p * C2p;

    double dHp = 0.0, hx, hy;
    if (CpProd == 0.0) {
        /* dh' = 0; the mean hue is the non-zero one's (or 0). */
        if (C1p > 0.0)
            hx = a1p / C1p, hy = b1 / C1p;
        else if (C2p > 0.0)
            hx = a2p / C2p, hy = b2 / C2p;
        else
            hx = 1.0, hy = 0.0;
    } else {
        const double p = a1p * a2p + b1 * b2, x = a1p * b2 - a2p * b1;
        if (x == 0.0 && p < 0.0)
            return ciede2000_angles(lab1, lab2);
        const double h2 = p > 0.0 ? 2.0 * x * x / (CpProd + p) : 2.0 * (CpProd - p);
        dHp = copysign(sqrt(h2), x);
        hx = a1p / C1p + a2p / C2p;
        hy = b1 / C1p + b2 / C2p;
        const double n2 = hx * hx + hy * hy;
        if (!(n2 > 1e-16))
            return ciede2000_angles(lab1, lab2);
        const double inv = 1.0 / sqrt(n2);
        hx *= inv;
        hy *= inv;
    }
    double hbp = deg(atan2(hy, hx));
    if (hbp < 0.0)
        hbp += 360.0;

    double dLp = L2 - L1, dCp = C2p - C1p;
    double Lbp = 0.5 * (L1 + L2), Cbp = 0.5 * (C1p + C2p);
    return ciede2000_finish(dLp, dCp, dHp, Lbp, Cbp, hbp, hx, hy);
}
