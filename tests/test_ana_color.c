/*
 * test_ana_color.c — the colour science of analysis/: CIEDE2000 against the 34 published pairs
 * of Sharma, Wu and Dalal (2005, Table 1), both argument orders; sRGB -> L*a*b* on colours
 * computed by hand from the formulas (white, black, greys, primaries, two skin tones) and the
 * L*a*b* differences the texture analysis reports for them.
 */
#include "test_util.h"

#include <math.h>
#include <string.h>

#include "analysis/analysis.h"

/* L1, a1, b1, L2, a2, b2, published dE00. Cross-checked row by row against two independent
 * transcriptions of Table 1 (a C and a Java test suite). */
static const double sharma[34][7] = {
    {50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425},
    {50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615},
    {50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412},
    {50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000},
    {50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485, 1.0000},
    {50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485, 1.0000},
    {50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669},
    {50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000, 2.3669},
    {50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792},
    {50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010, 7.1792},
    {50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195},
    {50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012, 7.2195},
    {50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045},
    {50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900, 4.8045},
    {50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461},
    {50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065},
    {50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492},
    {50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977},
    {50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030},
    {50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535},
    {50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000},
    {50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000, 1.0000},
    {50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757, 1.0000},
    {50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350, 1.0000},
    {60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644},
    {63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630},
    {61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731},
    {35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645},
    {22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373},
    {36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146},
    {90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441},
    {90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381},
    {6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377},
    {2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082},
};

static void test_sharma(void)
{
    for (int i = 0; i < 34; i++) {
        const double *row = sharma[i];
        double de12 = ana_ciede2000(row, row + 3), de21 = ana_ciede2000(row + 3, row);
        /* Published to 4 decimals: the exact value rounds to the table's. */
        if (fabs(de12 - row[6]) > 0.00005 || fabs(de21 - row[6]) > 0.00005)
            fprintf(stderr, "Sharma pair %d: expected %.4f, got %.6f / %.6f\n", i + 1, row[6], de12,
                    de21);
        CHECK_NEAR(row[6], de12, 0.00005);
        CHECK_NEAR(row[6], de21, 0.00005);
    }
    const double grey[3] = {50, 0, 0};
    CHECK_NEAR(0.0, ana_ciede2000(grey, grey), 0.0);
    CHECK(!isnan(ana_ciede2000(grey, (const double[3]){0, 0, 0})));
}

/* Expected values computed by hand (a few lines of Python) from the formulas in color.c's
 * header: IEC 61966-2-1 transfer function and matrix, white = the matrix's image of RGB white,
 * CIE 1976 L*a*b*. */
static void check_lab(uint8_t r, uint8_t g, uint8_t b, double L, double A, double B, double tol)
{
    double lab[3];
    ana_srgb8_to_lab((const uint8_t[3]){r, g, b}, lab);
    CHECK_NEAR(L, lab[0], tol);
    CHECK_NEAR(A, lab[1], tol);
    CHECK_NEAR(B, lab[2], tol);
}

static void test_srgb_to_lab(void)
{
    check_lab(255, 255, 255, 100.0, 0.0, 0.0, 1e-3);
    check_lab(255, 255, 255, 100.0, 0.0, 0.0, 1e-9); /* exact by construction of the white */
    check_lab(0, 0, 0, 0.0, 0.0, 0.0, 1e-12);
    check_lab(128, 128, 128, 53.585013, 0.0, 0.0, 1e-5);
    check_lab(255, 0, 0, 53.232882, 80.105327, 67.222782, 1e-5);
    check_lab(0, 255, 0, 87.737033, -86.188434, 83.186144, 1e-5);
    check_lab(0, 0, 255, 32.302587, 79.193638, -107.853734, 1e-5);
    check_lab(200, 150, 100, 65.758126, 12.758560, 33.563319, 1e-5);
    /* The commonly published sRGB red (exact-matrix D65 white 0.95047, 1, 1.08883) is
     * (53.2408, 80.0925, 67.2032); ours differs only through the 4-decimal white. */
    check_lab(255, 0, 0, 53.2408, 80.0925, 67.2032, 0.03);

    CHECK_NEAR(0.0, ana_srgb_to_linear(0.0), 0.0);
    CHECK_NEAR(1.0, ana_srgb_to_linear(1.0), 1e-15);
    CHECK_NEAR(0.04045 / 12.92, ana_srgb_to_linear(0.04045), 1e-15);
    CHECK_NEAR(0.21586050011389926, ana_srgb_to_linear(128.0 / 255.0), 1e-12);
}

/* dL* and chroma difference as the texture analysis defines them, on two skin tones. */
static void test_lab_differences(void)
{
    double a[3], b[3];
    ana_srgb8_to_lab((const uint8_t[3]){200, 150, 100}, a);
    ana_srgb8_to_lab((const uint8_t[3]){180, 120, 90}, b);
    CHECK_NEAR(-9.796280, b[0] - a[0], 1e-5);
    CHECK_NEAR(10.502605, hypot(b[1] - a[1], b[2] - a[2]), 1e-5);
    /* White against grey 128: a pure lightness step, no chroma. */
    ana_srgb8_to_lab((const uint8_t[3]){255, 255, 255}, a);
    ana_srgb8_to_lab((const uint8_t[3]){128, 128, 128}, b);
    CHECK_NEAR(53.585013 - 100.0, b[0] - a[0], 1e-5);
    CHECK_NEAR(0.0, hypot(b[1] - a[1], b[2] - a[2]), 1e-9);
}

int main(void)
{
    test_sharma();
    test_srgb_to_lab();
    test_lab_differences();
    return test_done();
}
